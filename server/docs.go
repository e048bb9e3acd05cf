package server

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	swaggerFiles "github.com/swaggo/files/v2"

	"github.com/graphconn/graphconn"
)

// tokenKey is where the docs page keeps the bearer token, in the browser's
// local storage.
const tokenKey = "graphconn.token"

// swaggerInitializer starts Swagger UI on the served contract, below a token
// field. The Authorize dialog of the spec's oauth2 scheme would fetch a token
// from Microsoft's login service, which a local server neither needs nor can
// reach offline; the field instead keeps a token minted by `graphconn token`
// in local storage, and every Try-it-out request to this server carries it as
// `Authorization: Bearer <token>`. Nothing here fetches anything but this
// server's own files.
const swaggerInitializer = `(function() {
  var KEY = "` + tokenKey + `";

  function storedToken() {
    try { return window.localStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }

  // A token pasted with its scheme, or with spaces around it, is kept bare.
  function cleanToken(v) {
    return v.trim().replace(/^bearer\s+/i, "").trim();
  }

  function tokenBar() {
    var style = document.createElement("style");
    style.textContent =
      "#graphconn-token{display:flex;flex-wrap:wrap;align-items:center;gap:8px;padding:10px 20px;" +
      "background:#1b1b1b;color:#fff;font-family:sans-serif;font-size:14px}" +
      "#graphconn-token label{font-weight:bold}" +
      "#graphconn-token input{flex:1 1 320px;min-width:200px;padding:6px 8px;font-family:monospace;" +
      "border:1px solid #888;border-radius:4px}" +
      "#graphconn-token button{padding:6px 14px;border:0;border-radius:4px;cursor:pointer;font-weight:bold}" +
      "#graphconn-token-save{background:#49cc90;color:#fff}" +
      "#graphconn-token-clear{background:#ddd;color:#222}" +
      "#graphconn-token-status{flex-basis:100%;font-size:12px;color:#ccc}" +
      "#graphconn-token code{color:#fff}";
    document.head.appendChild(style);

    var bar = document.createElement("form");
    bar.id = "graphconn-token";
    bar.setAttribute("aria-label", "Bearer token for Try it out");
    bar.innerHTML =
      '<label for="graphconn-token-input">Bearer token</label>' +
      '<input id="graphconn-token-input" name="token" type="password" autocomplete="off" spellcheck="false"' +
      ' placeholder="Paste a token here">' +
      '<button id="graphconn-token-save" type="submit">Save token</button>' +
      '<button id="graphconn-token-clear" type="button">Clear</button>' +
      '<span id="graphconn-token-status" role="status"></span>';
    var ui = document.getElementById("swagger-ui");
    ui.parentNode.insertBefore(bar, ui);

    var input = document.getElementById("graphconn-token-input");
    var status = document.getElementById("graphconn-token-status");
    function show() {
      status.innerHTML = storedToken()
        ? "Token saved in this browser: Try it out sends it as <code>Authorization: Bearer &lt;token&gt;</code>."
        : "No token: Try it out gets 401. Mint one with <code>graphconn token --data-dir DIR --app-id APP " +
          "--roles ExternalConnection.ReadWrite.All</code>, on the server's data dir.";
    }
    function save() {
      var token = cleanToken(input.value);
      try {
        if (token) { window.localStorage.setItem(KEY, token); } else { window.localStorage.removeItem(KEY); }
      } catch (e) {
        status.textContent = "This browser refuses to store the token: " + e;
        return;
      }
      input.value = token;
      show();
    }
    input.value = storedToken();
    bar.addEventListener("submit", function(ev) { ev.preventDefault(); save(); });
    input.addEventListener("change", save);
    document.getElementById("graphconn-token-clear").addEventListener("click", function() {
      input.value = "";
      save();
    });
    show();
  }

  window.onload = function() {
    tokenBar();
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      tryItOutEnabled: false,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      plugins: [SwaggerUIBundle.plugins.DownloadUrl],
      layout: "StandaloneLayout",
      // The token goes only to this server, and never replaces an
      // Authorization header set in the request.
      requestInterceptor: function(req) {
        var token = storedToken();
        var sameOrigin = new URL(req.url, window.location.href).origin === window.location.origin;
        if (token && sameOrigin && !req.headers["Authorization"]) {
          req.headers["Authorization"] = "Bearer " + token;
        }
        return req;
      }
    });
  };
})();
`

// registerDocs serves the contract and its interactive docs, and sends a
// browser that opens the server's root to them. They are outside the Graph
// API: they need no token and no contract describes them. It returns the
// paths it registered.
func registerDocs(e *echo.Echo, specJSON []byte) []string {
	// 302, not 301: a browser would keep a permanent redirect of the root
	// for good, whatever the server serves there later.
	e.GET("/", func(c echo.Context) error {
		return c.Redirect(http.StatusFound, "/docs/")
	})
	e.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", graphconn.OpenAPIYAML)
	})
	e.GET("/openapi.json", func(c echo.Context) error {
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, specJSON)
	})
	e.GET("/docs", func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, "/docs/")
	})
	files := http.StripPrefix("/docs/", http.FileServer(http.FS(swaggerFiles.FS)))
	e.GET("/docs/*", func(c echo.Context) error {
		name := strings.TrimPrefix(c.Request().URL.Path, "/docs/")
		if name == "swagger-initializer.js" {
			return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", []byte(swaggerInitializer))
		}
		if name != "" {
			if _, err := fs.Stat(swaggerFiles.FS, name); err != nil {
				return echo.ErrNotFound
			}
		}
		files.ServeHTTP(c.Response(), c.Request())
		return nil
	})
	return []string{"/", "/openapi.yaml", "/openapi.json", "/docs", "/docs/*"}
}
