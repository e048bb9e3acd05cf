package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/graphconn/graphconn/gen"
	"github.com/graphconn/graphconn/store"
)

const connectionType = gen.MicrosoftGraphExternalConnectionOdataType("#microsoft.graph.externalConnection")

// ExternalCreateConnections creates a connection in the draft state.
func (s *Server) ExternalCreateConnections(c echo.Context, _ gen.ExternalCreateConnectionsParams) error {
	var body gen.MicrosoftGraphExternalConnection
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if err := store.ValidateConnectionID(body.Id); err != nil {
		return err
	}
	conn := &store.Connection{ID: body.Id, Name: body.Name, Description: deref(body.Description), State: store.ConnectionDraft}
	if err := s.store.CreateConnection(c.Request().Context(), conn); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, connectionToAPI(conn))
}

func connectionToAPI(conn *store.Connection) gen.MicrosoftGraphExternalConnection {
	t, state := connectionType, gen.MicrosoftGraphConnectionState(conn.State)
	return gen.MicrosoftGraphExternalConnection{
		OdataType: &t, Id: conn.ID, Name: conn.Name, Description: &conn.Description, State: &state,
	}
}
