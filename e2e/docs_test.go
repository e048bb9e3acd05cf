// Package e2e drives graphconn's interactive docs in a real browser: headless
// Chromium, from the system's package, driven by chromedp.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/graphconn/graphconn/internal/graphconntest"
)

// screenshots is where the test leaves what the browser showed; it is
// git-ignored.
const screenshots = "../build/screenshots"

// chromium is the browser's path: $CHROMIUM, or Debian's package.
func chromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// A user opens the server's address, lands on /docs, finds "Update connectionOperation", tries it out
// without a token (401), pastes a token minted by `graphconn token` into the
// token field, and tries again: graphconn answers 200 and the operation
// changed.
func TestDocsTryItOut(t *testing.T) {
	tab, chromeLog := openBrowser(t)
	srv := graphconntest.Start(t, "--operation-delay", "200ms")
	token := srv.Token(t, "ExternalConnection.ReadWrite.All")
	const conn = "contosohr"
	call(t, srv.URL, token, "POST", "/external/connections", `{"id":"contosohr","name":"Contoso HR"}`, http.StatusCreated)
	var op struct{ ID, Status string }
	json.Unmarshal(call(t, srv.URL, token, "POST", "/external/connections/"+conn+"/operations", `{}`, http.StatusCreated), &op)

	// shot saves a PNG of the element that css selects, or of the viewport.
	shot := func(name, css string) {
		capture := chromedp.CaptureScreenshot()
		if css != "" {
			capture = chromedp.Screenshot(chromedp.CSS(css))
		}
		png, err := chromedp.Run(tab, capture)
		if err != nil {
			t.Logf("screenshot %s: %v", name, err)
			return
		}
		if err := os.MkdirAll(screenshots, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(screenshots, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			shot("docs-failed.png", "")
			t.Fatalf("%s: %v\nchromium:\n%s", what, err, chromeLog.String())
		}
	}
	// wait returns the first truthy value of a JavaScript expression.
	wait := func(what, expr string) string {
		t.Helper()
		v, err := chromedp.Run(tab, chromedp.Poll[string](expr,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
		step(what, err)
		return v
	}

	// The root redirects to /docs/, as /docs does.
	step("open / (redirected to /docs/)", chromedp.Do(tab, chromedp.Navigate(srv.URL+"/")))
	step("token field", chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS("#graphconn-token-input"))))

	// The operation whose summary reads "Update connectionOperation", on the
	// /external/connections path.
	id := wait(`operation "Update connectionOperation"`, `(function() {
		var b = Array.from(document.querySelectorAll(".opblock")).find(function(b) {
			var s = b.querySelector(".opblock-summary-description");
			var p = b.querySelector(".opblock-summary-path");
			return s && p && s.textContent.trim() === "Update connectionOperation" &&
				p.textContent.indexOf("/external/connections/") === 0;
		});
		return b ? b.id : "";
	})()`)
	block := fmt.Sprintf("[id=%q]", id)
	step("expand the operation", chromedp.Do(tab,
		chromedp.ScrollIntoView(chromedp.CSS(block+" .opblock-summary")),
		chromedp.Click(chromedp.CSS(block+" .opblock-summary-control")),
		chromedp.WaitVisible(chromedp.CSS(block+" .try-out__btn")),
		chromedp.Click(chromedp.CSS(block+" .try-out__btn")),
		chromedp.WaitVisible(chromedp.CSS(block+` tr[data-param-name="externalConnectionId"] input`)),
		chromedp.SendKeys(chromedp.CSS(block+` tr[data-param-name="externalConnectionId"] input`), conn),
		chromedp.SendKeys(chromedp.CSS(block+` tr[data-param-name="connectionOperationId"] input`), op.ID),
	))
	status := func() string {
		return wait("the response's status", `(function() {
			var c = document.querySelector(`+jsString(block+" .live-responses-table tbody .response-col_status")+`);
			return c ? c.textContent.trim() : "";
		})()`)
	}
	// The request body is the spec's example.
	execute := func() { step("execute", chromedp.Do(tab, chromedp.Click(chromedp.CSS(block+" button.execute")))) }

	// Without a token, the API refuses.
	execute()
	if got := status(); !strings.HasPrefix(got, "401") {
		shot("docs-failed.png", "")
		t.Fatalf("Try it out without a token: status %q, want 401", got)
	}
	step("clear the response", chromedp.Do(tab, chromedp.Click(chromedp.CSS(block+" button.btn-clear"))))

	// With the token set in the field, it answers 200.
	step("set the token", chromedp.Do(tab,
		chromedp.ScrollIntoView(chromedp.CSS("#graphconn-token-input")),
		chromedp.SendKeys(chromedp.CSS("#graphconn-token-input"), token),
		chromedp.Click(chromedp.CSS("#graphconn-token-save")),
	))
	if got := wait("the stored token", `localStorage.getItem("graphconn.token") || ""`); got != token {
		t.Fatalf("localStorage[graphconn.token] = %.20q..., want the token", got)
	}
	if got := wait("the token status", `document.getElementById("graphconn-token-status").textContent`); !strings.Contains(got, "Token saved") {
		t.Errorf("token status = %q, want it to say the token is saved", got)
	}
	step("scroll back", chromedp.Do(tab, chromedp.ScrollIntoView(chromedp.CSS(block+" button.execute"))))
	execute()
	if got := status(); !strings.HasPrefix(got, "200") {
		shot("docs-failed.png", "")
		t.Fatalf("Try it out with the token: status %q, want 200", got)
	}
	shot("docs-try-it-out.png", block)
	step("back to the top", chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`)))
	shot("docs-token.png", "")

	// The PATCH reached graphconn: the operation has the example's status.
	json.Unmarshal(call(t, srv.URL, token, "GET", "/external/connections/"+conn+"/operations/"+op.ID, "", http.StatusOK), &op)
	if op.Status != "failed" {
		t.Errorf("operation after Try it out: status %q, want the example's, failed", op.Status)
	}
}

// `make docs` writes a reference that renders from its one file, with no
// server and no network.
func TestStaticDocs(t *testing.T) {
	graphconntest.Tool(t, "../node_modules/.bin/redocly", "install it with `npm ci` at the repository root")
	tab, chromeLog := openBrowser(t)
	cmd := exec.Command("make", "docs")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make docs: %v\n%s", err, out)
	}
	index, err := filepath.Abs("../build/docs/index.html")
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`<(script|link)\b[^>]*\b(src|href)="(https?:)?//[^"]*"`).Find(html); m != nil {
		t.Errorf("build/docs/index.html loads %s", m)
	}
	if err := chromedp.Do(tab, chromedp.Navigate("file://"+index)); err != nil {
		t.Fatalf("open %s: %v\nchromium:\n%s", index, err, chromeLog)
	}
	shows := func(text string) {
		t.Helper()
		_, err := chromedp.Run(tab, chromedp.Poll[bool](
			`document.body.innerText.indexOf(`+jsString(text)+`) >= 0`,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
		if err != nil {
			t.Fatalf("the static reference does not show %q: %v\nchromium:\n%s", text, err, chromeLog)
		}
	}
	shows("Trying it out")
	shows("connectionOperations")
	// Opening a tag in the side menu lists its operations' summaries.
	if err := chromedp.Do(tab, chromedp.Click(`//*[normalize-space(text())="connectionOperations"]`)); err != nil {
		t.Fatalf("open connectionOperations: %v", err)
	}
	shows("Update connectionOperation")
}

// call sends one request to graphconn and returns the body of the expected
// answer.
func call(t *testing.T, base, token, method, path, body string, want int) []byte {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(res.Body); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, res.StatusCode, b.String(), want)
	}
	return b.Bytes()
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// openBrowser starts headless Chromium with a new profile, for two minutes
// at most, and returns its first tab and what it logs.
func openBrowser(t *testing.T) (context.Context, *graphconntest.LogBuffer) {
	t.Helper()
	browser := graphconntest.Tool(t, chromium(), "install it with `apt-get install chromium` (or set CHROMIUM)")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	logs := new(graphconntest.LogBuffer)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(browser),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// This machine reaches no network but loopback: keep Chromium from
		// trying, or its connections are refused.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1024),
		chromedp.CombinedOutput(logs),
	)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	return tab, logs
}
