/// A sink's answer to one chunk.
package enum SinkWrite: Sendable {
    /// Taken whole.
    case accepted
    /// Not taken: offer it again after ``SinkWaker/wake()``.
    case pause
    /// The sink failed (disk full, closed output); the transfer ends with this error and is not retried.
    case failed(any Error)
}
