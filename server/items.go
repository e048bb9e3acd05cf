package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/graphconn/graphconn/gen"
	"github.com/graphconn/graphconn/internal/contract"
	"github.com/graphconn/graphconn/store"
)

const itemTypeName = "#microsoft.graph.externalConnectors.externalItem"

// DefaultMaxItemsPerConnection is how many items a connection holds at
// most unless configured: Graph's documented limit before it removed it.
const DefaultMaxItemsPerConnection = 5_000_000

// itemScope is ownerScope for the ExternalItem permissions: the app whose
// connections the caller may reach, "" for all of the tenant's.
func itemScope(c echo.Context) string {
	p := principalOf(c)
	if p == nil || p.Has("ExternalItem.ReadWrite.All") ||
		(c.Request().Method == http.MethodGet && p.Has("ExternalItem.Read.All")) {
		return ""
	}
	return p.AppID
}

// itemConnection returns the connection whose items, groups or activities
// the request reaches, or NotFound when the caller may not see it.
func (s *Server) itemConnection(c echo.Context, connID string) (*store.Connection, error) {
	conn, err := s.store.Connection(c.Request().Context(), tenantOf(c), connID)
	if err != nil {
		return nil, err
	}
	if owner := itemScope(c); owner != "" && conn.Owner != owner {
		return nil, store.ConnectionNotFound(connID)
	}
	return conn, nil
}

// itemSchemas holds each connection's registered schema, compiled once:
// by tenant and connection, the schema of one registration.
type itemSchemas struct {
	m sync.Map // tenant + "\x00" + connection id → *compiledSchema
}

type compiledSchema struct {
	registered time.Time
	schema     *contract.ItemSchema
}

// itemSchema returns the compiled schema of the connection's registered schema; a
// 400 when it has none yet, since items need one.
func (s *Server) itemSchema(c echo.Context, connID string) (*contract.ItemSchema, error) {
	sch, err := s.store.Schema(c.Request().Context(), tenantOf(c), connID)
	if store.KindOf(err) == store.NotFound {
		return nil, newError(http.StatusBadRequest, "invalidRequest",
			"The connection '%s' has no registered schema: register one (PATCH .../schema) and wait for its operation to complete before pushing items.", connID)
	}
	if err != nil {
		return nil, err
	}
	key := tenantOf(c) + "\x00" + connID
	if v, ok := s.schemas.m.Load(key); ok {
		if cs := v.(*compiledSchema); cs.registered.Equal(sch.Registered) {
			return cs.schema, nil
		}
	}
	cs := &compiledSchema{registered: sch.Registered, schema: contract.CompileItemSchema(sch)}
	s.schemas.m.Store(key, cs)
	return cs.schema, nil
}

// itemOut is an item as every version writes it.
type itemOut struct {
	Context    string          `json:"@odata.context,omitempty"`
	Type       string          `json:"@odata.type"`
	ID         string          `json:"id"`
	ACL        []store.ACE     `json:"acl"`
	Properties json.RawMessage `json:"properties"`
	Content    *store.Content  `json:"content,omitempty"`
	Label      json.RawMessage `json:"informationProtectionLabel,omitempty"`
}

func writeItem(c echo.Context, connID string, it *store.Item) error {
	acl := it.ACL
	if acl == nil {
		acl = []store.ACE{}
	}
	return c.JSON(http.StatusOK, itemOut{
		Context: contextURL(c, connectionSet(c, connID)+"/items/$entity"), Type: itemTypeName,
		ID: it.ID, ACL: acl, Properties: it.Properties, Content: it.Content, Label: it.Label,
	})
}

// ExternalConnectionsGetItems reads an item.
func (s *Server) ExternalConnectionsGetItems(c echo.Context, connID, itemID string, _ gen.ExternalConnectionsGetItemsParams) error {
	if _, err := s.itemConnection(c, connID); err != nil {
		return err
	}
	it, err := s.store.Item(c.Request().Context(), tenantOf(c), connID, itemID)
	if err != nil {
		return err
	}
	return writeItem(c, connID, it)
}

// ExternalConnectionsSetItems creates or replaces an item, its properties
// checked against the connection's registered schema.
func (s *Server) ExternalConnectionsSetItems(c echo.Context, connID, itemID string, _ gen.ExternalConnectionsSetItemsParams) error {
	if err := store.ValidateItemID(itemID); err != nil {
		return err
	}
	if _, err := s.itemConnection(c, connID); err != nil {
		return err
	}
	var body gen.MicrosoftGraphExternalConnectorsExternalItem
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if body.Id != nil && *body.Id != itemID {
		return badRequest("The property 'id' is read-only: '%s' differs from the item's id '%s'.", truncate(*body.Id, 130), itemID)
	}
	it := &store.Item{ConnectionID: connID, ID: itemID}
	var err error
	if it.ACL, err = aclFromAPI(body.Acl); err != nil {
		return err
	}
	if it.Properties, err = s.checkProperties(c, connID); err != nil {
		return err
	}
	if it.Content, err = contentFromAPI(body.Content); err != nil {
		return err
	}
	it.Label = labelFromAPI(body.InformationProtectionLabel)
	// The store refuses a new item past the limit (507), in the step
	// that writes it; replacing an item takes no room.
	if _, err := s.store.PutItem(c.Request().Context(), tenantOf(c), it, s.maxItems); err != nil {
		return err
	}
	return writeItem(c, connID, it)
}

// ExternalConnectionsUpdateItems replaces the parts of an item the body
// holds.
func (s *Server) ExternalConnectionsUpdateItems(c echo.Context, connID, itemID string, _ gen.ExternalConnectionsUpdateItemsParams) error {
	if _, err := s.itemConnection(c, connID); err != nil {
		return err
	}
	var body gen.MicrosoftGraphExternalConnectorsExternalItemUpdate
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if body.Id != nil && *body.Id != itemID {
		return badRequest("The property 'id' is read-only: '%s' differs from the item's id '%s'.", truncate(*body.Id, 130), itemID)
	}
	var u store.ItemUpdate
	var err error
	if body.Acl != nil {
		if u.ACL, err = aclFromAPI(*body.Acl); err != nil {
			return err
		}
	}
	if body.Properties != nil {
		if u.Properties, err = s.checkProperties(c, connID); err != nil {
			return err
		}
	}
	if body.Content != nil {
		u.SetContent = true
		if u.Content, err = contentFromAPI(body.Content); err != nil {
			return err
		}
	}
	if body.InformationProtectionLabel != nil {
		u.SetLabel, u.Label = true, labelFromAPI(body.InformationProtectionLabel)
	}
	it, err := s.store.UpdateItem(c.Request().Context(), tenantOf(c), connID, itemID, u)
	if err != nil {
		return err
	}
	return writeItem(c, connID, it)
}

// ExternalConnectionsDeleteItems deletes an item and its activities.
func (s *Server) ExternalConnectionsDeleteItems(c echo.Context, connID, itemID string, _ gen.ExternalConnectionsDeleteItemsParams) error {
	if _, err := s.itemConnection(c, connID); err != nil {
		return err
	}
	if err := s.store.DeleteItem(c.Request().Context(), tenantOf(c), connID, itemID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// checkProperties checks the body's properties against the connection's
// registered schema and returns them as JSON for the store.
func (s *Server) checkProperties(c echo.Context, connID string) (json.RawMessage, error) {
	is, err := s.itemSchema(c, connID)
	if err != nil {
		return nil, err
	}
	body, _ := requestBody(c).Value.(map[string]any)
	props, _ := body["properties"].(map[string]any)
	if err := is.Check(props); err != nil {
		var pe *contract.PropertyError
		if errors.As(err, &pe) {
			return nil, badRequest("%s", pe.Message)
		}
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(props); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func aclFromAPI(in []gen.MicrosoftGraphExternalConnectorsAcl) ([]store.ACE, error) {
	out := make([]store.ACE, len(in))
	for i, a := range in {
		if a.Type == "unknownFutureValue" || a.AccessType == "unknownFutureValue" {
			return nil, badRequest("The acl entry %d is of type '%s' with accessType '%s': unknownFutureValue names no one and grants nothing.", i, a.Type, a.AccessType)
		}
		out[i] = store.ACE{Type: string(a.Type), Value: a.Value, AccessType: string(a.AccessType)}
		if a.IdentitySource != nil {
			out[i].IdentitySource = string(*a.IdentitySource)
		}
	}
	return out, nil
}

func contentFromAPI(in *gen.MicrosoftGraphExternalConnectorsExternalItemContent) (*store.Content, error) {
	if in == nil {
		return nil, nil
	}
	t := "text"
	if in.Type != nil {
		t = string(*in.Type)
	}
	if t == "unknownFutureValue" {
		return nil, badRequest("The content's type must be text or html, not unknownFutureValue.")
	}
	return &store.Content{Type: t, Value: in.Value}, nil
}

func labelFromAPI(in *gen.MicrosoftGraphExternalConnectorsExternalItemInformationProtectionLabel) json.RawMessage {
	if in == nil || in.SensitivityLabelId == nil {
		return nil
	}
	b, _ := json.Marshal(map[string]string{"sensitivityLabelId": *in.SensitivityLabelId})
	return b
}
