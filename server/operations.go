package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/oapi-codegen/nullable"

	"github.com/graphconn/graphconn/gen"
	"github.com/graphconn/graphconn/store"
)

const (
	operationTypeName    = "microsoft.graph.connectionOperation"
	operationType        = gen.MicrosoftGraphConnectionOperationOdataType("#" + operationTypeName)
	errorDetailType      = gen.MicrosoftGraphErrorDetailOdataType("#microsoft.graph.errorDetail")
	innerErrorDetailType = gen.MicrosoftGraphInnerErrorDetailOdataType("#microsoft.graph.innerErrorDetail")
)

// Each operation answers on both path families, /external/connections/{id}
// and /connections/{id}: the generated methods delegate in pairs.

// ExternalConnectionsListOperations lists a connection's operations.
func (s *Server) ExternalConnectionsListOperations(c echo.Context, connID string, p gen.ExternalConnectionsListOperationsParams) error {
	return s.listOperations(c, connID, p.Top, p.Skiptoken, p.Filter, p.Select)
}

// ConnectionsListOperations lists a connection's operations.
func (s *Server) ConnectionsListOperations(c echo.Context, connID string, p gen.ConnectionsListOperationsParams) error {
	return s.listOperations(c, connID, p.Top, p.Skiptoken, p.Filter, p.Select)
}

// ExternalConnectionsCreateOperations creates an operation on a connection.
func (s *Server) ExternalConnectionsCreateOperations(c echo.Context, connID string, _ gen.ExternalConnectionsCreateOperationsParams) error {
	return s.createOperation(c, connID)
}

// ConnectionsCreateOperations creates an operation on a connection.
func (s *Server) ConnectionsCreateOperations(c echo.Context, connID string, _ gen.ConnectionsCreateOperationsParams) error {
	return s.createOperation(c, connID)
}

// ExternalConnectionsGetOperations reads an operation.
func (s *Server) ExternalConnectionsGetOperations(c echo.Context, connID, opID string, p gen.ExternalConnectionsGetOperationsParams) error {
	return s.getOperation(c, connID, opID, p.Select)
}

// ConnectionsGetOperations reads an operation.
func (s *Server) ConnectionsGetOperations(c echo.Context, connID, opID string, p gen.ConnectionsGetOperationsParams) error {
	return s.getOperation(c, connID, opID, p.Select)
}

// ExternalConnectionsUpdateOperations is the seed: PATCH an operation.
func (s *Server) ExternalConnectionsUpdateOperations(c echo.Context, connID, opID string, p gen.ExternalConnectionsUpdateOperationsParams) error {
	return s.updateOperation(c, connID, opID, p.IfMatch)
}

// ConnectionsUpdateOperations is the seed: PATCH an operation.
func (s *Server) ConnectionsUpdateOperations(c echo.Context, connID, opID string, p gen.ConnectionsUpdateOperationsParams) error {
	return s.updateOperation(c, connID, opID, p.IfMatch)
}

// ExternalConnectionsDeleteOperations deletes an operation.
func (s *Server) ExternalConnectionsDeleteOperations(c echo.Context, connID, opID string, p gen.ExternalConnectionsDeleteOperationsParams) error {
	return s.deleteOperation(c, connID, opID, p.IfMatch)
}

// ConnectionsDeleteOperations deletes an operation.
func (s *Server) ConnectionsDeleteOperations(c echo.Context, connID, opID string, p gen.ConnectionsDeleteOperationsParams) error {
	return s.deleteOperation(c, connID, opID, p.IfMatch)
}

func (s *Server) listOperations(c echo.Context, connID string, top *int, skiptoken, filter, selectRaw *string) error {
	if err := s.visible(c, connID); err != nil {
		return err
	}
	pg, err := page(top, skiptoken, s.operationPage)
	if err != nil {
		return err
	}
	status, err := parseStatusFilter(filter)
	if err != nil {
		return err
	}
	sel, err := parseSelect(selectRaw, operationTypeName, s.operationProps)
	if err != nil {
		return err
	}
	ops, next, err := s.store.Operations(c.Request().Context(), tenantOf(c), connID, status, pg)
	if err != nil {
		return err
	}
	values := make([]any, len(ops))
	for i, op := range ops {
		if values[i], err = sel.apply(operationToAPI(op)); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, collection{
		Context:  contextURL(c, connectionSet(c, connID)+"/operations"+sel.suffix()),
		Value:    values,
		NextLink: nextLink(c, next),
	})
}

func (s *Server) createOperation(c echo.Context, connID string) error {
	if err := s.visible(c, connID); err != nil {
		return err
	}
	body, err := operationBody(c)
	if err != nil {
		return err
	}
	if body.Id != nil {
		return badRequest("The property 'id' is read-only: the server assigns it.")
	}
	op := &store.Operation{ConnectionID: connID, ID: store.NewOperationID(), Status: store.StatusUnspecified}
	if body.Status != nil {
		op.Status = store.OperationStatus(*body.Status)
	}
	if body.Error.IsSpecified() && !body.Error.IsNull() {
		op.Error = errorDetailFromAPI(body.Error.MustGet())
	}
	if err := s.store.CreateOperation(c.Request().Context(), tenantOf(c), op); err != nil {
		return err
	}
	return s.writeOperation(c, http.StatusCreated, op, nil)
}

func (s *Server) getOperation(c echo.Context, connID, opID string, selectRaw *string) error {
	if err := s.visible(c, connID); err != nil {
		return err
	}
	sel, err := parseSelect(selectRaw, operationTypeName, s.operationProps)
	if err != nil {
		return err
	}
	op, err := s.store.Operation(c.Request().Context(), tenantOf(c), connID, opID)
	if err != nil {
		return err
	}
	return s.writeOperation(c, http.StatusOK, op, sel)
}

// updateOperation merges the body into the stored operation: only the
// properties present change, and "error": null clears the error.
func (s *Server) updateOperation(c echo.Context, connID, opID string, ifMatch *string) error {
	if err := s.visible(c, connID); err != nil {
		return err
	}
	body, err := operationBody(c)
	if err != nil {
		return err
	}
	if body.Id != nil && *body.Id != opID {
		return badRequest("The property 'id' is read-only: '%s' differs from the operation's id '%s'.", truncate(*body.Id, 100), opID)
	}
	u := store.OperationUpdate{IfMatch: parseIfMatch(ifMatch)}
	if body.Status != nil {
		st := store.OperationStatus(*body.Status)
		u.Status = &st
	}
	if body.Error.IsSpecified() {
		u.SetError = true
		if !body.Error.IsNull() {
			u.Error = errorDetailFromAPI(body.Error.MustGet())
		}
	}
	op, err := s.store.UpdateOperation(c.Request().Context(), tenantOf(c), connID, opID, u)
	if err != nil {
		return err
	}
	return s.writeOperation(c, http.StatusOK, op, nil)
}

func (s *Server) deleteOperation(c echo.Context, connID, opID string, ifMatch *string) error {
	if err := s.visible(c, connID); err != nil {
		return err
	}
	if err := s.store.DeleteOperation(c.Request().Context(), tenantOf(c), connID, opID, parseIfMatch(ifMatch)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// operationBody returns the body of a POST or PATCH of an operation.
func operationBody(c echo.Context) (gen.MicrosoftGraphConnectionOperation, error) {
	var body gen.MicrosoftGraphConnectionOperation
	return body, decodeBody(c, &body)
}

func (s *Server) writeOperation(c echo.Context, status int, op *store.Operation, sel selection) error {
	ctx := contextURL(c, connectionSet(c, op.ConnectionID)+"/operations"+sel.suffix()+"/$entity")
	if sel == nil {
		tag := etag(op.Version)
		h := c.Response().Header()
		h["Etag"] = []string{tag} // "ETag", canonical, without canonicalizing it per request
		h["Content-Type"] = []string{echo.MIMEApplicationJSON}
		return c.Blob(status, echo.MIMEApplicationJSON, appendOperationJSON(make([]byte, 0, 512), ctx, tag, op))
	}
	out := operationToAPI(op)
	out.OdataContext = &ctx
	body, err := sel.apply(out)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(op.Version))
	return c.JSON(status, body)
}

func operationToAPI(op *store.Operation) gen.MicrosoftGraphConnectionOperation {
	t, status, tag := operationType, gen.MicrosoftGraphConnectionOperationStatus(op.Status), etag(op.Version)
	out := gen.MicrosoftGraphConnectionOperation{OdataType: &t, OdataEtag: &tag, Id: &op.ID, Status: &status}
	if op.Error == nil {
		out.Error = nullable.NewNullNullable[gen.MicrosoftGraphErrorDetail]()
		return out
	}
	et := errorDetailType
	e := gen.MicrosoftGraphErrorDetail{OdataType: &et, ErrorCode: &op.Error.Code, Message: &op.Error.Message}
	if op.Error.Details != nil {
		details := make([]gen.MicrosoftGraphInnerErrorDetail, len(op.Error.Details))
		for i := range op.Error.Details {
			it := innerErrorDetailType
			details[i] = gen.MicrosoftGraphInnerErrorDetail{OdataType: &it, Source: &op.Error.Details[i].Source}
		}
		e.Details = &details
	}
	out.Error = nullable.NewNullableWithValue(e)
	return out
}

func errorDetailFromAPI(e gen.MicrosoftGraphErrorDetail) *store.ErrorDetail {
	d := &store.ErrorDetail{Code: deref(e.ErrorCode), Message: deref(e.Message)}
	if e.Details != nil {
		d.Details = make([]store.InnerErrorDetail, len(*e.Details))
		for i, in := range *e.Details {
			d.Details[i] = store.InnerErrorDetail{Source: deref(in.Source)}
		}
	}
	return d
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
