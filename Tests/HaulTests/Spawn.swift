import CHaulSystem
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, for the tests that run `haul`, the ZIP readers, bash
/// and the curl script.
///
/// Not Foundation's `Process`: on Linux with Swift 6.3.1 its `run()` reads past a buffer while it lists
/// `/proc/self/fd` (swift-corelibs-foundation pull request 5472), and this suite, which spawns hundreds
/// of processes while holding many descriptors, crashed on it intermittently. Not swift-subprocess
/// either: its closure-scoped API does not fit tests that signal a process from outside (SIGINT, kill -9)
/// while other tasks watch the archive. The child gets every descriptor above 2 closed, default signal
/// dispositions and an empty signal mask, as a shell would give it.
struct Spawned: Sendable {
    /// Where a standard stream goes.
    enum Stream: Sendable {
        case null
        /// A file, read (standard input) or created and truncated (output).
        case file(String)
        /// Standard error only: the same place as standard output.
        case standardOutput
    }

    let pid: pid_t

    /// - Parameters:
    ///   - executable: An absolute path.
    ///   - environment: The child's whole environment.
    ///   - directory: Its working directory.
    init(
        _ executable: String, _ arguments: [String], environment: [String: String], directory: String? = nil,
        stdin: Stream = .null, stdout: Stream = .null, stderr: Stream = .null
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let directory { csystem_spawn_chdir(&actions, directory) }
        func redirect(_ stream: Stream, to fd: Int32, reading: Bool) {
            switch stream {
            case .null: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", reading ? O_RDONLY : O_WRONLY, 0)
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, fd, path, reading ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            case .standardOutput: posix_spawn_file_actions_adddup2(&actions, 1, fd)
            }
        }
        redirect(stdin, to: 0, reading: true)
        redirect(stdout, to: 1, reading: false)
        redirect(stderr, to: 2, reading: false)
        csystem_spawn_closefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else {
            throw NSError(domain: NSPOSIXErrorDomain, code: Int(rc), userInfo: [NSLocalizedDescriptionKey: "cannot start \(executable): \(String(cString: strerror(rc)))"])
        }
        self.pid = pid
    }

    /// The exit status (128 + the signal for a process a signal ended), or `nil` while it runs.
    func poll() -> Int32? {
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        guard rc == pid else { return nil }
        return Self.decode(status)
    }

    /// Waits for the end without blocking a thread, killing the process after `timeout`.
    func wait(timeout: Duration = .seconds(120)) async -> (status: Int32, timedOut: Bool) {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = poll() { return (status, false) }
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                _ = waitpid(pid, &status, 0)
                return (Self.decode(status), true)
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Blocks until the end.
    func waitBlocking() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return Self.decode(status)
    }

    static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }
}

/// The test process's environment with these changes (a `nil` value removes the variable).
func environment(_ changes: [String: String?]) -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    for (key, value) in changes { env[key] = value }
    return env
}
