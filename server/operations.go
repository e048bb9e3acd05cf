package server

import (
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/oapi-codegen/nullable"

	"github.com/graphconn/graphconn/gen"
	"github.com/graphconn/graphconn/store"
)

const (
	operationType        = gen.MicrosoftGraphConnectionOperationOdataType("#microsoft.graph.connectionOperation")
	errorDetailType      = gen.MicrosoftGraphErrorDetailOdataType("#microsoft.graph.errorDetail")
	innerErrorDetailType = gen.MicrosoftGraphInnerErrorDetailOdataType("#microsoft.graph.innerErrorDetail")
)

// ExternalConnectionsCreateOperations creates an operation on a connection.
func (s *Server) ExternalConnectionsCreateOperations(c echo.Context, connID string, _ gen.ExternalConnectionsCreateOperationsParams) error {
	var body gen.MicrosoftGraphConnectionOperation
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if body.Id != nil {
		return badRequest("The property 'id' is read-only: the server assigns it.")
	}
	op := &store.Operation{ConnectionID: connID, ID: uuid.NewString(), Status: store.StatusUnspecified}
	if body.Status != nil {
		op.Status = store.OperationStatus(*body.Status)
	}
	if body.Error.IsSpecified() && !body.Error.IsNull() {
		op.Error = errorDetailFromAPI(body.Error.MustGet())
	}
	if err := s.store.CreateOperation(c.Request().Context(), op); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, operationToAPI(op))
}

// ExternalConnectionsGetOperations reads an operation.
func (s *Server) ExternalConnectionsGetOperations(c echo.Context, connID, opID string, _ gen.ExternalConnectionsGetOperationsParams) error {
	return s.getOperation(c, connID, opID)
}

// ConnectionsGetOperations reads an operation by the /connections path.
func (s *Server) ConnectionsGetOperations(c echo.Context, connID, opID string, _ gen.ConnectionsGetOperationsParams) error {
	return s.getOperation(c, connID, opID)
}

// ExternalConnectionsUpdateOperations is the seed: PATCH an operation.
func (s *Server) ExternalConnectionsUpdateOperations(c echo.Context, connID, opID string, _ gen.ExternalConnectionsUpdateOperationsParams) error {
	return s.updateOperation(c, connID, opID)
}

// ConnectionsUpdateOperations is the seed by the /connections path.
func (s *Server) ConnectionsUpdateOperations(c echo.Context, connID, opID string, _ gen.ConnectionsUpdateOperationsParams) error {
	return s.updateOperation(c, connID, opID)
}

func (s *Server) getOperation(c echo.Context, connID, opID string) error {
	op, err := s.store.Operation(c.Request().Context(), connID, opID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, operationToAPI(op))
}

// updateOperation merges the body into the stored operation: only the
// properties present change, and "error": null clears the error.
func (s *Server) updateOperation(c echo.Context, connID, opID string) error {
	var body gen.MicrosoftGraphConnectionOperation
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if body.Id != nil && *body.Id != opID {
		return badRequest("The property 'id' is read-only: '%s' differs from the operation's id '%s'.", truncate(*body.Id, 100), opID)
	}
	var u store.OperationUpdate
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
	op, err := s.store.UpdateOperation(c.Request().Context(), connID, opID, u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, operationToAPI(op))
}

func operationToAPI(op *store.Operation) gen.MicrosoftGraphConnectionOperation {
	t, status := operationType, gen.MicrosoftGraphConnectionOperationStatus(op.Status)
	out := gen.MicrosoftGraphConnectionOperation{OdataType: &t, Id: &op.ID, Status: &status}
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
