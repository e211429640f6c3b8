import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reading what a person types at a terminal, for the command-line tools.
public enum Terminal {
    /// Reads one line from standard input with the terminal's echo off (a password, a PIN), and restores the echo
    /// afterwards; on a pipe it simply reads a line. `afterwards` runs once the echo is back (to end the prompt's
    /// line, which the person's Enter did not show). `nil` at the end of input.
    public static func readLineWithoutEcho(afterwards: () -> Void = {}) -> String? {
        var saved = termios()
        let isTerminal = tcgetattr(STDIN_FILENO, &saved) == 0
        if isTerminal {
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &silent)
        }
        defer {
            if isTerminal {
                tcsetattr(STDIN_FILENO, TCSANOW, &saved)
                afterwards()
            }
        }
        return readLine(strippingNewline: true)
    }
}
