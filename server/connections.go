package server

import (
	"net/http"

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
	pg, err := page(p.Top, p.Skiptoken, s.connectionPage)
	if err != nil {
		return err
	}
	sel, err := parseSelect(p.Select, connectionTypeNameOf(c), s.connectionProps)
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
	return c.JSON(http.StatusOK, collection{
		Context:  contextURL(c, "external/connections"+sel.suffix()),
		Value:    values,
		NextLink: nextLink(c, next),
	})
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
	conn := &store.Connection{ID: id, Name: deref(body.Name), Description: deref(body.Description), Owner: principalOf(c).AppID}
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
	sel, err := parseSelect(p.Select, connectionTypeNameOf(c), s.connectionProps)
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
		Name: body.Name, Description: body.Description, IfMatch: parseIfMatch(p.IfMatch),
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
}

// decodeConnection decodes the body of a POST or PATCH of a connection, in
// the request's shape.
func decodeConnection(c echo.Context) (connectionInput, error) {
	if today(c) {
		var body gen.MicrosoftGraphExternalConnectorsExternalConnection
		err := decodeBody(c, &body)
		return connectionInput{Id: body.Id, Name: body.Name, Description: body.Description}, err
	}
	var body gen.MicrosoftGraphExternalConnection
	err := decodeBody(c, &body)
	return connectionInput{Id: body.Id, Name: body.Name, Description: body.Description}, err
}

// connectionTypeNameOf names the connection's type in the request's shape,
// for messages.
func connectionTypeNameOf(c echo.Context) string {
	if today(c) {
		return graphConnectionTypeName
	}
	return connectionTypeName
}

// connectionOut is conn in the request's shape, with @odata.context ctx
// unless it is "".
func connectionOut(c echo.Context, conn *store.Connection, ctx string) any {
	tag := etag(conn.Version)
	if today(c) {
		t, state := graphConnectionType, gen.MicrosoftGraphExternalConnectorsConnectionState(conn.State)
		out := gen.MicrosoftGraphExternalConnectorsExternalConnection{
			OdataType: &t, OdataEtag: &tag, Id: &conn.ID, Name: &conn.Name, Description: &conn.Description, State: &state,
		}
		if ctx != "" {
			out.OdataContext = &ctx
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
