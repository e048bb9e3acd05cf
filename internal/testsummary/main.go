// Command testsummary runs go test commands that report with -json, prints
// what go test prints without -json (an "ok" line per package that passed,
// the output of the tests that failed), and ends with the tests that were
// skipped and why, and the packages that failed: the last lines of make test.
//
//	go run ./internal/testsummary [-skipped 'WHAT: WHY']... 'go test -json ./...' ['NAME=VALUE go test -json ./tests']...
//
// Each argument is a command line for sh. -skipped adds a line to the
// skipped list for what the caller did not run at all. The exit status is 1
// when a command exits non-zero or a test fails.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

func main() {
	var notes []string
	flag.Func("skipped", "`WHAT: WHY` of a suite the caller did not run; repeatable", func(s string) error {
		notes = append(notes, s)
		return nil
	})
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: testsummary [-skipped 'WHAT: WHY']... 'go test -json ...'...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	// The terminal's ^C reaches go test too: let it stop and report, and
	// summarize what it reported. (Not signal.Ignore: children inherit it.)
	signal.Notify(make(chan os.Signal, 1), os.Interrupt)
	if !run(".", flag.Args(), notes, os.Stdout, os.Stderr) {
		os.Exit(1)
	}
}

// run runs the command lines in dir, the root of a module, and reports
// whether they and every test passed.
func run(dir string, lines, notes []string, stdout, stderr io.Writer) bool {
	s := newSummary(stdout, modulePath(filepath.Join(dir, "go.mod")))
	for _, line := range lines {
		fmt.Fprintf(stdout, "== %s\n", line)
		cmd := exec.Command("sh", "-c", line)
		cmd.Dir = dir
		cmd.Stderr = stderr
		out, err := cmd.StdoutPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err == nil {
			s.read(out)
			err = cmd.Wait()
		}
		s.finish()
		if err != nil {
			s.failed = append(s.failed, fmt.Sprintf("%s (%v)", line, err))
		}
	}
	return s.report(notes)
}

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // of build-output events
	Test       string
	Output     string
}

type outputLine struct{ test, text string }

type pkgState struct {
	lines   []outputLine
	results map[string]string // test: pass, fail or skip
}

type skip struct{ pkg, reason, test string }

type summary struct {
	w       io.Writer
	module  string
	pkgs    map[string]*pkgState
	order   []string // packages not finished yet, in order of appearance
	skipped []skip
	failed  []string // packages, and commands that failed
}

func newSummary(w io.Writer, module string) *summary {
	return &summary{w: w, module: module, pkgs: map[string]*pkgState{}}
}

// read handles the events of one command, printing each package's lines as
// the package finishes.
func (s *summary) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(s.w, sc.Text()) // not an event: pass it on
			continue
		}
		s.handle(e)
	}
	if err := sc.Err(); err != nil {
		s.failed = append(s.failed, "reading go test's output: "+err.Error())
	}
}

func (s *summary) handle(e event) {
	if e.Action == "build-output" || e.Action == "build-fail" {
		fmt.Fprint(s.w, e.Output)
		return
	}
	if e.Package == "" {
		fmt.Fprint(s.w, e.Output)
		return
	}
	p := s.pkgs[e.Package]
	if p == nil {
		p = &pkgState{results: map[string]string{}}
		s.pkgs[e.Package] = p
		s.order = append(s.order, e.Package)
	}
	switch e.Action {
	case "output":
		p.lines = append(p.lines, outputLine{e.Test, e.Output})
	case "pass", "fail", "skip":
		if e.Test != "" {
			p.results[e.Test] = e.Action
			if e.Action == "skip" {
				s.skipped = append(s.skipped, skip{s.short(e.Package), skipReason(p.lines, e.Test), e.Test})
			}
			return
		}
		s.flush(e.Package, e.Action)
	}
}

// flush prints a finished package as go test does without -json: the "ok"
// (or "?") line of a package that passed; everything but the output of the
// tests that passed or were skipped for one that failed.
func (s *summary) flush(pkg, result string) {
	p := s.pkgs[pkg]
	for _, l := range p.lines {
		switch {
		case result != "fail":
			if l.test == "" && (strings.HasPrefix(l.text, "ok ") || strings.HasPrefix(l.text, "? ")) {
				fmt.Fprint(s.w, l.text)
			}
		case strings.HasPrefix(l.text, "=== "):
		case l.test == "" || p.results[l.test] == "fail" || p.results[l.test] == "":
			fmt.Fprint(s.w, l.text)
		}
	}
	if result == "fail" {
		s.failed = append(s.failed, s.short(pkg))
	}
	delete(s.pkgs, pkg)
	s.order = slices.DeleteFunc(s.order, func(q string) bool { return q == pkg })
}

// finish fails the packages whose result never came (go test was killed, say).
func (s *summary) finish() {
	for _, pkg := range slices.Clone(s.order) {
		s.flush(pkg, "fail")
	}
}

// logLine is a line that t.Log, t.Skip or t.Error writes: "    file_test.go:12: text".
var logLine = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: (.*)$`)

// skipReason is the last line that test logged: what t.Skip said.
func skipReason(lines []outputLine, test string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i].test != test {
			continue
		}
		if m := logLine.FindStringSubmatch(strings.TrimRight(lines[i].text, "\n")); m != nil {
			return strings.TrimPrefix(m[1], "skipped: ")
		}
	}
	return "no reason given"
}

// report prints the skipped tests by package and reason, and the failures;
// it reports whether everything passed.
func (s *summary) report(notes []string) bool {
	type group struct {
		pkg, reason string
		tests       []string
	}
	var groups []*group
	for _, sk := range s.skipped {
		i := slices.IndexFunc(groups, func(g *group) bool { return g.pkg == sk.pkg && g.reason == sk.reason })
		if i < 0 {
			groups = append(groups, &group{pkg: sk.pkg, reason: sk.reason})
			i = len(groups) - 1
		}
		groups[i].tests = append(groups[i].tests, sk.test)
	}
	fmt.Fprintln(s.w)
	if len(groups) == 0 && len(notes) == 0 {
		fmt.Fprintln(s.w, "skipped: nothing")
	} else {
		fmt.Fprintln(s.w, "skipped:")
		for _, g := range groups {
			fmt.Fprintf(s.w, "  %s: %s: %s\n", g.pkg, names(g.tests), g.reason)
		}
		for _, n := range notes {
			fmt.Fprintf(s.w, "  %s\n", n)
		}
	}
	if len(s.failed) > 0 {
		fmt.Fprintf(s.w, "FAIL: %s\n", strings.Join(s.failed, ", "))
		return false
	}
	fmt.Fprintln(s.w, "ok: every test that ran passed")
	return true
}

// names lists tests, the subtests of one test as one entry, and a few
// entries at most.
func names(tests []string) string {
	var tops []string
	count := map[string]int{}
	for _, t := range tests {
		top, _, _ := strings.Cut(t, "/")
		if count[top] == 0 {
			tops = append(tops, top)
		}
		count[top]++
	}
	var list []string
	for _, top := range tops {
		switch i := slices.IndexFunc(tests, func(t string) bool { return strings.HasPrefix(t+"/", top+"/") }); {
		case count[top] == 1:
			list = append(list, tests[i])
		default:
			list = append(list, fmt.Sprintf("%s (%d subtests)", top, count[top]))
		}
	}
	const shown = 3
	if len(list) <= shown {
		return strings.Join(list, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(list[:shown], ", "), len(list)-shown)
}

func (s *summary) short(pkg string) string {
	if s.module == "" {
		return pkg
	}
	if pkg == s.module {
		return "."
	}
	return strings.TrimPrefix(pkg, s.module+"/")
}

// modulePath is the module path that the go.mod file at path declares, or "".
func modulePath(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}
