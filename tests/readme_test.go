package tests

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The README's walk-through must work as printed: run its block against a
// live server.
func TestReadmeWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- walkthrough:")
	if !ok {
		t.Fatal("README.md has no walkthrough marker")
	}
	_, rest, _ = strings.Cut(rest, "```sh\n")
	script, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("README.md's walk-through block is not closed")
	}
	dir := t.TempDir()
	p := startBinary(t, dir, nil, "--addr", "127.0.0.1:0", "--data-dir", dir, "--operation-delay", "500ms")
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), "URL="+p.url, "GRAPHCONN="+binary(t), "DATA_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walk-through failed: %v\n%s", err, out)
	}
	// The walk-through of /v1.0, the second block.
	if _, v1, ok := strings.Cut(rest, "<!-- walkthrough:"); !ok {
		t.Error("README.md has no second walk-through, of /v1.0")
	} else {
		_, v1, _ = strings.Cut(v1, "```sh\n")
		script, _, _ := strings.Cut(v1, "```")
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Env = append(os.Environ(), "URL="+p.url, "GRAPHCONN="+binary(t), "DATA_DIR="+dir)
		v1out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("/v1.0 walk-through failed: %v\n%s", err, v1out)
		}
		for _, want := range []string{
			`"@odata.type":"#microsoft.graph.externalConnectors.externalConnection"`,
			`"urlPattern":"/tickets/(?\u003cticketId\u003e[0-9]+)"`,
			"polling " + p.url + "/v1.0/external/connections/contosotickets/operations/",
			`"@odata.type":"#microsoft.graph.externalConnectors.connectionOperation"`,
			`"code":"ItemsRejected"`,
			`"id":"TSP228082938"`,
			`"The property 'opened' is registered as dateTime, but the item sends the string \"yesterday\"."`,
			`"@odata.type":"#microsoft.graph.externalConnectors.externalGroup"`,
			`"@odata.type":"#microsoft.graph.externalConnectors.externalActivityResult"`,
			// Alice finds the ticket, highlighted; the contractor finds nothing.
			`"summary":"The \u003cc0\u003epayment\u003c/c0\u003e \u003cc0\u003egateway\u003c/c0\u003e answers 502`,
			`"properties":{"ticketTitle":"Error in the payment gateway"}`,
			`"hits":[],"total":0`,
			"\n202\n",
		} {
			if !strings.Contains(string(v1out), want) {
				t.Errorf("/v1.0 walk-through output lacks %s:\n%s", want, v1out)
			}
		}
	}
	for _, want := range []string{
		`"state":"draft"`,
		`"status":"inprogress"`,
		`"state":"ready"`,
		`"baseType":"microsoft.graph.externalItem"`,
		`"source":"properties/0"`,
		`"error":null,"id":"`,
		`"status":"completed"`,
		`"@odata.context":"` + p.url + `/$metadata#external/connections('contosohr')/operations","value":[{`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walk-through output lacks %s:\n%s", want, out)
		}
	}
	// Step 7, in this order: the 400, then the completed operation failed
	// with an error, then completed again with the error cleared (200s).
	seq := string(out)
	for _, want := range []string{
		`"code":"invalidRequest"`,
		`"errorCode":"LateFailure"`, `"status":"failed"}`,
		`"error":null,"id":"`, `"status":"completed"}`,
	} {
		i := strings.Index(seq, want)
		if i < 0 {
			t.Errorf("walk-through step 7 lacks %s in its order:\n%s", want, out)
			break
		}
		seq = seq[i+len(want):]
	}
	if strings.Contains(string(out), "generalException") {
		t.Errorf("walk-through hit a server error:\n%s", out)
	}
	p.stop(t)
}
