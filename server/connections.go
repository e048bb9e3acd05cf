package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/labstack/echo/v4"

	"github.com/graphconn/graphconn/gen"
	"github.com/graphconn/graphconn/store"
)

const (
	connectionTypeName      = "microsoft.graph.externalConnection"
	connectionType          = gen.MicrosoftGraphExternalConnectionOdataType("#" + connectionTypeName)
	graphConnectionTypeName = "microsoft.graph.externalConnectors.externalConnection"
	graphConnectionType     = gen.MicrosoftGraphExternalConnectorsExternalConnectionOdataType("#" + graphConnectionTypeName)
)

// ExternalListConnections lists the connections.
func (s *Server) ExternalListConnections(c echo.Context, p gen.ExternalListConnectionsParams) error {
	pg, err := page(p.Top, p.Skiptoken, s.connectionEntity(c).page)
	if err != nil {
		return err
	}
	sel, err := parseSelect(p.Select, s.connectionEntity(c))
	if err != nil {
		return err
	}
	conns, next, err := s.store.Connections(c.Request().Context(), tenantOf(c), ownerScope(c), pg)
	if err != nil {
		return err
	}
	values := make([]any, len(conns))
	for i, conn := range conns {
		if values[i], err = sel.apply(connectionOut(c, conn, "")); err != nil {
			return err
		}
	}
	out := collection{
		Context:  contextURL(c, "external/connections"+sel.suffix()),
		Value:    values,
		NextLink: nextLink(c, next),
	}
	if p.Count != nil && *p.Count {
		n, err := s.store.CountConnections(c.Request().Context(), tenantOf(c), ownerScope(c))
		if err != nil {
			return err
		}
		out.Count = &n
	}
	return c.JSON(http.StatusOK, out)
}

// ExternalCountConnections counts the connections the caller may see.
func (s *Server) ExternalCountConnections(c echo.Context, _ gen.ExternalCountConnectionsParams) error {
	n, err := s.store.CountConnections(c.Request().Context(), tenantOf(c), ownerScope(c))
	if err != nil {
		return err
	}
	return writeCount(c, n)
}

// ExternalCreateConnections creates a connection in the draft state.
func (s *Server) ExternalCreateConnections(c echo.Context, _ gen.ExternalCreateConnectionsParams) error {
	body, err := decodeConnection(c)
	if err != nil {
		return err
	}
	id := deref(body.Id)
	if err := store.ValidateConnectionID(id); err != nil {
		return err
	}
	conn := &store.Connection{ID: id, Name: deref(body.Name), Description: deref(body.Description), Owner: principalOf(c).AppID,
		Settings: body.Settings}
	if err := s.store.CreateConnection(c.Request().Context(), tenantOf(c), conn); err != nil {
		return err
	}
	return writeConnection(c, http.StatusCreated, conn, nil)
}

// ExternalGetConnections reads a connection.
func (s *Server) ExternalGetConnections(c echo.Context, id string, p gen.ExternalGetConnectionsParams) error {
	if err := s.visible(c, id); err != nil {
		return err
	}
	sel, err := parseSelect(p.Select, s.connectionEntity(c))
	if err != nil {
		return err
	}
	conn, err := s.store.Connection(c.Request().Context(), tenantOf(c), id)
	if err != nil {
		return err
	}
	return writeConnection(c, http.StatusOK, conn, sel)
}

// ExternalUpdateConnections changes a connection's name or description.
func (s *Server) ExternalUpdateConnections(c echo.Context, id string, p gen.ExternalUpdateConnectionsParams) error {
	if err := s.visible(c, id); err != nil {
		return err
	}
	body, err := decodeConnection(c)
	if err != nil {
		return err
	}
	if body.Id != nil && *body.Id != id {
		return badRequest("The property 'id' is read-only: '%s' differs from the connection's id '%s'.", truncate(*body.Id, 100), id)
	}
	conn, err := s.store.UpdateConnection(c.Request().Context(), tenantOf(c), id, store.ConnectionUpdate{
		Name: body.Name, Description: body.Description, Settings: body.Settings, IfMatch: parseIfMatch(p.IfMatch),
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(conn.Version))
	return c.NoContent(http.StatusNoContent)
}

// ExternalDeleteConnections deletes a connection with its schema and
// operations. Graph answers 202: deletion is asynchronous there; here it is
// done when the answer comes.
func (s *Server) ExternalDeleteConnections(c echo.Context, id string, p gen.ExternalDeleteConnectionsParams) error {
	if err := s.visible(c, id); err != nil {
		return err
	}
	if err := s.store.DeleteConnection(c.Request().Context(), tenantOf(c), id, parseIfMatch(p.IfMatch)); err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}

func writeConnection(c echo.Context, status int, conn *store.Connection, sel selection) error {
	body, err := sel.apply(connectionOut(c, conn, contextURL(c, "external/connections"+sel.suffix()+"/$entity")))
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(conn.Version))
	return c.JSON(status, body)
}

// connectionInput is the body of a POST or PATCH of a connection, whichever
// its shape.
type connectionInput struct {
	Id, Name, Description *string
	// Settings are today's other properties present in the body, as sent
	// (see store.Connection.Settings).
	Settings map[string]json.RawMessage
}

// settingNames are today's properties of a connection that the store keeps
// as they come.
var settingNames = []string{"connectorId", "contentCategory", "configuration", "activitySettings", "searchSettings"}

// betaSettingNames are settingNames and beta's own.
var betaSettingNames = append(settingNames[:len(settingNames):len(settingNames)], "enabledContentExperiences", "complianceSettings")

// decodeConnection decodes the body of a POST or PATCH of a connection, in
// the request's shape, and checks what the contract cannot.
func decodeConnection(c echo.Context) (connectionInput, error) {
	if !today(c) {
		var body gen.MicrosoftGraphExternalConnection
		err := decodeBody(c, &body)
		return connectionInput{Id: body.Id, Name: body.Name, Description: body.Description}, err
	}
	var body gen.MicrosoftGraphExternalConnectorsExternalConnection
	if err := decodeBody(c, &body); err != nil {
		return connectionInput{}, err
	}
	in := connectionInput{Id: body.Id, Name: body.Name, Description: body.Description}
	if err := checkSettings(body); err != nil {
		return in, err
	}
	names := settingNames
	if versionPrefix(c) == betaPrefix {
		var beta gen.BetaMicrosoftGraphExternalConnectorsExternalConnection
		if err := decodeBody(c, &beta); err != nil {
			return in, err
		}
		if cs := beta.ComplianceSettings; cs != nil && cs.EDiscoveryResultTemplates != nil {
			if err := checkTemplates("complianceSettings.eDiscoveryResultTemplates", *cs.EDiscoveryResultTemplates); err != nil {
				return in, err
			}
		}
		names = betaSettingNames
	}
	var raw map[string]json.RawMessage
	if err := jsonv2.Unmarshal(requestBody(c).Data, &raw); err != nil {
		return in, badRequest("The request body is not valid JSON.")
	}
	for _, name := range names {
		if v, ok := raw[name]; ok {
			if in.Settings == nil {
				in.Settings = map[string]json.RawMessage{}
			}
			in.Settings[name] = v
		}
	}
	return in, nil
}

// checkSettings checks the rules of Graph's connection settings that
// openapi.yaml cannot express.
func checkSettings(body gen.MicrosoftGraphExternalConnectorsExternalConnection) error {
	if a := body.ActivitySettings; a != nil && a.UrlToItemResolvers != nil {
		for i, r := range *a.UrlToItemResolvers {
			where := fmt.Sprintf("activitySettings.urlToItemResolvers[%d]", i)
			re, err := regexp.Compile(deref(r.UrlMatchInfo.UrlPattern))
			if err != nil {
				return badRequest("The urlPattern of %s is not a valid regular expression: %s.", where, truncate(err.Error(), 200))
			}
			for _, m := range itemIDGroup.FindAllStringSubmatch(r.ItemId, -1) {
				if re.SubexpIndex(m[1]) < 0 {
					return badRequest("The itemId of %s names the group '%s', which its urlPattern does not have.", where, truncate(m[1], 64))
				}
			}
		}
	}
	if s := body.SearchSettings; s != nil && s.SearchResultTemplates != nil {
		return checkTemplates("searchSettings.searchResultTemplates", *s.SearchResultTemplates)
	}
	return nil
}

// checkTemplates bounds the layouts of display templates by maxLayoutBytes.
func checkTemplates(where string, templates []gen.MicrosoftGraphExternalConnectorsDisplayTemplate) error {
	for i, t := range templates {
		layout, err := json.Marshal(t.Layout)
		if err != nil || len(layout) > maxLayoutBytes {
			return badRequest("The layout of %s[%d] is larger than %d bytes.", where, i, maxLayoutBytes)
		}
	}
	return nil
}

// itemIDGroup finds the regular expression's groups that an itemId names:
// {id}.
var itemIDGroup = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// maxLayoutBytes is displayTemplate.layout's x-graphconn-maxBytes in
// openapi.yaml.
const maxLayoutBytes = 32768

// connectionOut is conn in the request's shape, with @odata.context ctx
// unless it is "".
func connectionOut(c echo.Context, conn *store.Connection, ctx string) any {
	tag := etag(conn.Version)
	if today(c) {
		t, state := graphConnectionType, gen.MicrosoftGraphExternalConnectorsConnectionState(conn.State)
		out := gen.MicrosoftGraphExternalConnectorsExternalConnection{
			OdataType: &t, OdataEtag: &tag, Id: &conn.ID, Name: &conn.Name, Description: &conn.Description, State: &state,
			ContentCategory: new(gen.MicrosoftGraphExternalConnectorsContentCategory("uncategorized")),
		}
		// The settings as stored: each was checked against the contract
		// when it was written.
		for name, v := range conn.Settings {
			var field any
			switch name {
			case "connectorId":
				field = &out.ConnectorId
			case "contentCategory":
				field = &out.ContentCategory
			case "configuration":
				field = &out.Configuration
			case "activitySettings":
				field = &out.ActivitySettings
			case "searchSettings":
				field = &out.SearchSettings
			default:
				continue
			}
			_ = jsonv2.Unmarshal(v, field) // the response check catches what this would miss
		}
		if ctx != "" {
			out.OdataContext = &ctx
		}
		if versionPrefix(c) == betaPrefix {
			return betaConnectionOut(out, conn)
		}
		return out
	}
	t, state := connectionType, gen.MicrosoftGraphConnectionState(conn.State)
	out := gen.MicrosoftGraphExternalConnection{
		OdataType: &t, OdataEtag: &tag, Id: &conn.ID, Name: &conn.Name, Description: &conn.Description, State: &state,
	}
	if ctx != "" {
		out.OdataContext = &ctx
	}
	return out
}

// betaConnection is a connection in beta's shape: v1.0's and beta's own
// properties.
type betaConnection struct {
	gen.MicrosoftGraphExternalConnectorsExternalConnection
	// IngestedItemsCount is null while the connection is a draft, as in
	// Graph.
	IngestedItemsCount        *int64          `json:"ingestedItemsCount"`
	EnabledContentExperiences json.RawMessage `json:"enabledContentExperiences,omitempty"`
	ComplianceSettings        json.RawMessage `json:"complianceSettings,omitempty"`
}

func betaConnectionOut(v1 gen.MicrosoftGraphExternalConnectorsExternalConnection, conn *store.Connection) betaConnection {
	out := betaConnection{MicrosoftGraphExternalConnectorsExternalConnection: v1,
		EnabledContentExperiences: conn.Settings["enabledContentExperiences"], ComplianceSettings: conn.Settings["complianceSettings"]}
	if conn.State != store.ConnectionDraft {
		out.IngestedItemsCount = &conn.ItemCount
	}
	return out
}

// connectionEntity is what lists and $select need of a connection in the
// request's shape.
func (s *Server) connectionEntity(c echo.Context) entity {
	if versionPrefix(c) == betaPrefix {
		return s.betaConnection
	}
	return s.connection[shapeOf(c)]
}
