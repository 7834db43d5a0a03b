import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a password for `proctor login`: on a terminal it asks on stderr and reads without echo, restoring the
/// terminal afterwards, also when Ctrl-C or SIGTERM ends the program while it waits; from anything else (a pipe,
/// a file) it reads one line of stdin, so that scripts can give it.
enum PasswordPrompt {
    static func read(prompt: String) -> String? {
        var original = termios()
        guard isatty(STDIN_FILENO) == 1, tcgetattr(STDIN_FILENO, &original) == 0 else {
            return readLine(strippingNewline: true)
        }
        FileHandle.standardError.write(Data(prompt.utf8))
        TerminalRestore.arm(original)
        var silent = original
        silent.c_lflag &= ~tcflag_t(ECHO)
        // TCSAFLUSH drops what was typed ahead of the prompt, which the terminal has already echoed.
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            TerminalRestore.restoreNow()
            TerminalRestore.disarm()
            FileHandle.standardError.write(Data("\n".utf8))  // the Enter key's newline was not echoed either
        }
        return readLine(strippingNewline: true)
    }
}

/// The terminal settings to put back if a signal ends the program while echo is off. Globals, because a signal
/// handler is a C function that captures nothing; written only before the handlers are installed.
private enum TerminalRestore {
    nonisolated(unsafe) static var saved = termios()
    nonisolated(unsafe) static var previousHandlers: [(Int32, sighandler_t?)] = []
    static let signals = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

    static func arm(_ settings: termios) {
        saved = settings
        previousHandlers = signals.map { ($0, signal($0, restoreAndResignal)) }
    }

    static func disarm() {
        for (number, handler) in previousHandlers { signal(number, handler) }
        previousHandlers = []
    }

    static func restoreNow() {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved)
    }
}

/// Restores the terminal and ends the prompt's line, then dies of the same signal (so the shell sees an
/// interrupted command).
private let restoreAndResignal: @convention(c) (Int32) -> Void = { number in
    tcsetattr(STDIN_FILENO, TCSANOW, &TerminalRestore.saved)
    var newline = UInt8(ascii: "\n")
    _ = write(STDERR_FILENO, &newline, 1)
    signal(number, SIG_DFL)
    raise(number)
}
