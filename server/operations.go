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
	// Today's Graph.
	graphOperationTypeName = "microsoft.graph.externalConnectors.connectionOperation"
	graphOperationType     = gen.MicrosoftGraphExternalConnectorsConnectionOperationOdataType("#" + graphOperationTypeName)
	publicErrorType        = gen.MicrosoftGraphPublicErrorOdataType("#microsoft.graph.publicError")
	publicErrorDetailType  = gen.MicrosoftGraphPublicErrorDetailOdataType("#microsoft.graph.publicErrorDetail")
	publicInnerErrorType   = gen.MicrosoftGraphPublicInnerErrorOdataType("#microsoft.graph.publicInnerError")
)

// Each operation answers on every path family and version that
// openapi.yaml gives it (server/routes.go); the version picks the shape of
// the bodies (decodeOperation, operationOut), nothing else.

// ExternalConnectionsListOperations lists a connection's operations.
func (s *Server) ExternalConnectionsListOperations(c echo.Context, connID string, p gen.ExternalConnectionsListOperationsParams) error {
	return s.listOperations(c, connID, p.Top, p.Skiptoken, p.Filter, p.Select, p.Count != nil && *p.Count)
}

// ExternalConnectionsCountOperations counts a connection's operations.
func (s *Server) ExternalConnectionsCountOperations(c echo.Context, connID string, p gen.ExternalConnectionsCountOperationsParams) error {
	if err := s.visible(c, connID); err != nil {
		return err
	}
	status, err := parseStatusFilter(p.Filter)
	if err != nil {
		return err
	}
	n, err := s.store.CountOperations(c.Request().Context(), tenantOf(c), connID, status)
	if err != nil {
		return err
	}
	return writeCount(c, n)
}

// ExternalConnectionsCreateOperations creates an operation on a connection.
func (s *Server) ExternalConnectionsCreateOperations(c echo.Context, connID string, _ gen.ExternalConnectionsCreateOperationsParams) error {
	return s.createOperation(c, connID)
}

// ExternalConnectionsGetOperations reads an operation.
func (s *Server) ExternalConnectionsGetOperations(c echo.Context, connID, opID string, p gen.ExternalConnectionsGetOperationsParams) error {
	return s.getOperation(c, connID, opID, p.Select)
}

// ExternalConnectionsUpdateOperations is the seed: PATCH an operation.
func (s *Server) ExternalConnectionsUpdateOperations(c echo.Context, connID, opID string, p gen.ExternalConnectionsUpdateOperationsParams) error {
	return s.updateOperation(c, connID, opID, p.IfMatch)
}

// ExternalConnectionsDeleteOperations deletes an operation.
func (s *Server) ExternalConnectionsDeleteOperations(c echo.Context, connID, opID string, p gen.ExternalConnectionsDeleteOperationsParams) error {
	return s.deleteOperation(c, connID, opID, p.IfMatch)
}

func (s *Server) listOperations(c echo.Context, connID string, top *int, skiptoken, filter, selectRaw *string, count bool) error {
	if err := s.visible(c, connID); err != nil {
		return err
	}
	pg, err := page(top, skiptoken, s.operation[shapeOf(c)].page)
	if err != nil {
		return err
	}
	status, err := parseStatusFilter(filter)
	if err != nil {
		return err
	}
	sel, err := parseSelect(selectRaw, s.operation[shapeOf(c)])
	if err != nil {
		return err
	}
	ops, next, err := s.store.Operations(c.Request().Context(), tenantOf(c), connID, status, pg)
	if err != nil {
		return err
	}
	values := make([]any, len(ops))
	for i, op := range ops {
		if values[i], err = sel.apply(operationOut(c, op, "")); err != nil {
			return err
		}
	}
	out := collection{
		Context:  contextURL(c, connectionSet(c, connID)+"/operations"+sel.suffix()),
		Value:    values,
		NextLink: nextLink(c, next),
	}
	if count {
		n, err := s.store.CountOperations(c.Request().Context(), tenantOf(c), connID, status)
		if err != nil {
			return err
		}
		out.Count = &n
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) createOperation(c echo.Context, connID string) error {
	if err := s.visible(c, connID); err != nil {
		return err
	}
	body, err := decodeOperation(c)
	if err != nil {
		return err
	}
	if body.ID != nil {
		return badRequest("The property 'id' is read-only: the server assigns it.")
	}
	op := &store.Operation{ConnectionID: connID, ID: store.NewOperationID(), Status: store.StatusUnspecified}
	if body.Status != nil {
		op.Status = *body.Status
	}
	op.Error = body.Error
	if err := s.store.CreateOperation(c.Request().Context(), tenantOf(c), op); err != nil {
		return err
	}
	return s.writeOperation(c, http.StatusCreated, op, nil)
}

func (s *Server) getOperation(c echo.Context, connID, opID string, selectRaw *string) error {
	if err := s.visible(c, connID); err != nil {
		return err
	}
	sel, err := parseSelect(selectRaw, s.operation[shapeOf(c)])
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
	body, err := decodeOperation(c)
	if err != nil {
		return err
	}
	if body.ID != nil && *body.ID != opID {
		return badRequest("The property 'id' is read-only: '%s' differs from the operation's id '%s'.", truncate(*body.ID, 100), opID)
	}
	u := store.OperationUpdate{IfMatch: parseIfMatch(ifMatch), Status: body.Status, SetError: body.SetError, Error: body.Error}
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

// operationInput is the body of a POST or PATCH of an operation, whichever
// its shape.
type operationInput struct {
	ID     *string
	Status *store.OperationStatus
	// SetError is set when the body has "error", and Error is its value
	// (nil for null).
	SetError bool
	Error    *store.ErrorDetail
}

// decodeOperation decodes the body of a POST or PATCH of an operation, in
// the request's shape.
func decodeOperation(c echo.Context) (operationInput, error) {
	var in operationInput
	if today(c) {
		var body gen.MicrosoftGraphExternalConnectorsConnectionOperation
		if err := decodeBody(c, &body); err != nil {
			return in, err
		}
		in.ID = body.Id
		if body.Status != nil {
			in.Status = new(store.OperationStatus(*body.Status))
		}
		if in.SetError = body.Error.IsSpecified(); in.SetError && !body.Error.IsNull() {
			in.Error = publicErrorFromAPI(body.Error.MustGet())
		}
		return in, nil
	}
	var body gen.MicrosoftGraphConnectionOperation
	if err := decodeBody(c, &body); err != nil {
		return in, err
	}
	in.ID = body.Id
	if body.Status != nil {
		in.Status = new(store.OperationStatus(*body.Status))
	}
	if in.SetError = body.Error.IsSpecified(); in.SetError && !body.Error.IsNull() {
		in.Error = errorDetailFromAPI(body.Error.MustGet())
	}
	return in, nil
}

func (s *Server) writeOperation(c echo.Context, status int, op *store.Operation, sel selection) error {
	ctx := contextURL(c, connectionSet(c, op.ConnectionID)+"/operations"+sel.suffix()+"/$entity")
	tag := etag(op.Version)
	h := c.Response().Header()
	h["Etag"] = []string{tag} // "ETag", canonical, without canonicalizing it per request
	if sel == nil {
		h["Content-Type"] = []string{echo.MIMEApplicationJSON}
		return c.Blob(status, echo.MIMEApplicationJSON, appendOperationJSON(make([]byte, 0, 512), today(c), ctx, tag, op))
	}
	body, err := sel.apply(operationOut(c, op, ctx))
	if err != nil {
		return err
	}
	return c.JSON(status, body)
}

// operationOut is op in the request's shape, with @odata.context ctx
// unless it is "".
func operationOut(c echo.Context, op *store.Operation, ctx string) any {
	if today(c) {
		out := graphOperationToAPI(op)
		if ctx != "" {
			out.OdataContext = &ctx
		}
		return out
	}
	out := operationToAPI(op)
	if ctx != "" {
		out.OdataContext = &ctx
	}
	return out
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
			details[i] = gen.MicrosoftGraphInnerErrorDetail{OdataType: &it, Source: new(op.Error.Details[i].Where())}
		}
		e.Details = &details
	}
	out.Error = nullable.NewNullableWithValue(e)
	return out
}

func graphOperationToAPI(op *store.Operation) gen.MicrosoftGraphExternalConnectorsConnectionOperation {
	t, status, tag := graphOperationType, gen.MicrosoftGraphExternalConnectorsConnectionOperationStatus(op.Status), etag(op.Version)
	out := gen.MicrosoftGraphExternalConnectorsConnectionOperation{OdataType: &t, OdataEtag: &tag, Id: &op.ID, Status: &status}
	if op.Error == nil {
		out.Error = nullable.NewNullNullable[gen.MicrosoftGraphPublicError]()
		return out
	}
	et := publicErrorType
	e := gen.MicrosoftGraphPublicError{OdataType: &et, Code: &op.Error.Code, Message: &op.Error.Message, Details: publicDetails(op.Error.Details)}
	if op.Error.Target != "" {
		e.Target = &op.Error.Target
	}
	if in := op.Error.Inner; in != nil {
		it := publicInnerErrorType
		inner := gen.MicrosoftGraphPublicInnerError{OdataType: &it, Code: &in.Code, Message: &in.Message, Details: publicDetails(in.Details)}
		if in.Target != "" {
			inner.Target = &in.Target
		}
		e.InnerError = nullable.NewNullableWithValue(inner)
	}
	out.Error = nullable.NewNullableWithValue(e)
	return out
}

func publicDetails(in []store.InnerErrorDetail) *[]gen.MicrosoftGraphPublicErrorDetail {
	if in == nil {
		return nil
	}
	out := make([]gen.MicrosoftGraphPublicErrorDetail, len(in))
	for i, d := range in {
		dt := publicErrorDetailType
		out[i] = gen.MicrosoftGraphPublicErrorDetail{OdataType: &dt}
		if d.Code != "" {
			out[i].Code = &in[i].Code
		}
		if d.Message != "" {
			out[i].Message = &in[i].Message
		}
		if w := d.Where(); w != "" {
			out[i].Target = new(w)
		}
	}
	return &out
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

func publicErrorFromAPI(e gen.MicrosoftGraphPublicError) *store.ErrorDetail {
	d := &store.ErrorDetail{Code: deref(e.Code), Message: deref(e.Message), Target: deref(e.Target), Details: detailsFromAPI(e.Details)}
	if e.InnerError.IsSpecified() && !e.InnerError.IsNull() {
		in := e.InnerError.MustGet()
		d.Inner = &store.ErrorDetail{Code: deref(in.Code), Message: deref(in.Message), Target: deref(in.Target), Details: detailsFromAPI(in.Details)}
	}
	return d
}

func detailsFromAPI(in *[]gen.MicrosoftGraphPublicErrorDetail) []store.InnerErrorDetail {
	if in == nil {
		return nil
	}
	out := make([]store.InnerErrorDetail, len(*in))
	for i, d := range *in {
		out[i] = store.InnerErrorDetail{Code: deref(d.Code), Message: deref(d.Message), Target: deref(d.Target)}
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
