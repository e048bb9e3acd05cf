package server

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	swaggerFiles "github.com/swaggo/files/v2"

	"github.com/graphconn/graphconn"
)

// swaggerInitializer starts Swagger UI on the served contract. Try-it-out
// requests carry the bearer token kept in the page's local storage, which
// the Authorize dialog of the oauth2 scheme cannot obtain without the
// internet.
const swaggerInitializer = `window.onload = function() {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
    requestInterceptor: function(req) {
      var token = window.localStorage.getItem("graphconn.token");
      if (token && !req.headers["Authorization"]) {
        req.headers["Authorization"] = "Bearer " + token;
      }
      return req;
    }
  });
};
`

// registerDocs serves the contract and its interactive docs. They are outside
// the Graph API: they need no token and no contract describes them. It
// returns the paths it registered.
func registerDocs(e *echo.Echo, specJSON []byte) []string {
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
	return []string{"/openapi.yaml", "/openapi.json", "/docs", "/docs/*"}
}
