/// What the bench loop's tasks hand back.
enum BenchStep: Sendable {
    case fetched(BenchFetch)
    /// A `--duration` run's time is up.
    case deadline
}
