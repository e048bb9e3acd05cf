package main

import (
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/graphconn/graphconn/auth"
)

// newcomerAppID is the application id of the token that serve suggests, the
// one of README's walk-through.
const newcomerAppID = "11111111-2222-3333-4444-555555555555"

// logFirstSteps logs, once serve listens, what a newcomer needs first: where
// the docs are, and the command that mints a token for every operation,
// signed by the development key of dataDir (when the server trusts it).
func logFirstSteps(log *slog.Logger, self, base, dataDir string, issuers, audiences []string) {
	log.Info("docs", slog.String("docs", base+"/docs"), slog.String("openapi", base+"/openapi.yaml"))
	if args := tokenArgs(dataDir, issuers, audiences); args != nil {
		log.Info("mint a token", slog.String("command", shellJoin(append([]string{self}, args...))))
	}
}

// baseURL is the URL of a server listening on addr, as a browser on the same
// machine reaches it.
func baseURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// tokenArgs returns the arguments of `graphconn token` that mint a token
// accepted by every operation of a server whose data directory is dataDir,
// or nil when the server does not trust the development key (its issuer is
// not among issuers).
func tokenArgs(dataDir string, issuers, audiences []string) []string {
	if len(issuers) > 0 && !slices.Contains(issuers, auth.DevIssuer) {
		return nil
	}
	args := []string{"token", "--data-dir", dataDir, "--app-id", newcomerAppID, "--roles", "ExternalConnection.ReadWrite.All"}
	if len(audiences) > 0 && !slices.Contains(audiences, auth.DefaultAudience) {
		args = append(args, "--audience", audiences[0])
	}
	return args
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:,=@%+-]+$`)

// shellJoin joins args into a command line that a POSIX shell splits back
// into args.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if shellSafe.MatchString(a) {
			quoted[i] = a
		} else {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(quoted, " ")
}
