/// Lets a paused sink ask for its transfer to go on. Callable from any thread, any number of times.
package struct SinkWaker: Sendable {
    let action: @Sendable () -> Void
    package init(_ action: @escaping @Sendable () -> Void) { self.action = action }
    package func wake() { action() }
}
