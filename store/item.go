package store

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Item is an externalItem: one piece of content a connector pushed to a
// connection, with who may see it.
type Item struct {
	Tenant       string // the connection's
	ConnectionID string
	ID           string
	ACL          []ACE
	// Properties is the item's properties object, as the JSON the client
	// sent it, compacted: its values and their @odata.type annotations.
	// Every store returns the same bytes it was given (it stores text, not
	// a JSON type that would reorder members).
	Properties json.RawMessage
	Content    *Content // nil when the item has none
	// Label is the item's informationProtectionLabel object as JSON, as
	// Properties is kept; nil when it has none.
	Label    json.RawMessage
	Version  int64 // as Connection.Version: the item's ETag
	Created  time.Time
	Modified time.Time
}

// ACE is one entry of an item's access control list.
type ACE struct {
	Type       string `json:"type"`       // user, group, everyone, everyoneExceptGuests, externalGroup
	Value      string `json:"value"`      // an Entra object id, a tenant id (everyone*), an external group id
	AccessType string `json:"accessType"` // grant or deny
	// IdentitySource is beta's azureActiveDirectory or external; "" when
	// the client did not send it.
	IdentitySource string `json:"identitySource,omitempty"`
}

// Content is an item's content: text or html.
type Content struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// ItemUpdate holds the changes of a PATCH of an item: nil fields keep their
// values; the others replace the stored value as a whole, as in Graph.
type ItemUpdate struct {
	ACL        []ACE           // nil keeps the ACL
	Properties json.RawMessage // nil keeps the properties
	SetContent bool            // when true, Content replaces the content (nil removes it)
	Content    *Content
	SetLabel   bool // when true, Label replaces the label (nil removes it)
	Label      json.RawMessage
}

// Apply applies u to it, as UpdateItem does.
func (u ItemUpdate) Apply(it *Item) {
	if u.ACL != nil {
		it.ACL = u.ACL
	}
	if u.Properties != nil {
		it.Properties = u.Properties
	}
	if u.SetContent {
		it.Content = nil
		if u.Content != nil {
			c := *u.Content
			it.Content = &c
		}
	}
	if u.SetLabel {
		it.Label = u.Label
	}
}

// ExternalGroup is a group of people defined by the external system, which
// item ACLs can name (type externalGroup).
type ExternalGroup struct {
	Tenant       string
	ConnectionID string
	ID           string
	DisplayName  string
	Description  string
	Version      int64
	Created      time.Time
	Modified     time.Time
}

// GroupUpdate holds the changes of a PATCH of an external group: nil fields
// keep their values.
type GroupUpdate struct {
	DisplayName *string
	Description *string
}

// Member is a member of an external group: a user or a group of Entra ID,
// or another external group of the same connection (groups may nest, and
// may even form cycles).
type Member struct {
	ID   string `json:"id"`
	Type string `json:"type"` // user, group or externalGroup
	// IdentitySource is beta's azureActiveDirectory or external; "" when
	// the client did not send it.
	IdentitySource string `json:"identitySource,omitempty"`
}

// Activity is an externalActivity: something a person did to an item.
type Activity struct {
	Type          string // viewed, modified, created, commented
	StartDateTime time.Time
	PerformedBy   Member // performedBy: an identity
}

// ItemStore keeps a connection's items, external groups and activities.
// Its methods follow Store's rules (atomic, tenant-scoped, *Error kinds);
// a connection that does not exist, or is another tenant's, is NotFound
// with ConnectionNotFound's message. Deleting a connection deletes its
// items, groups, members and activities.
type ItemStore interface {
	// PutItem creates the item it.ID of connection it.ConnectionID, or
	// replaces it as a whole, and reports whether it created it; it sets
	// it.Tenant, it.Version, it.Created (kept on a replace) and
	// it.Modified. The write is durable when PutItem returns. When
	// maxItems is positive, the connection holds at most that many items:
	// a put that would create one more is Full, and writes nothing; a
	// replace always passes. The count and the write are one step, so
	// concurrent puts cannot pass the limit together.
	PutItem(ctx context.Context, tenant string, it *Item, maxItems int64) (created bool, err error)

	// Item returns the item. Returns NotFound if it (or its connection)
	// does not exist.
	Item(ctx context.Context, tenant, connID, id string) (*Item, error)

	// UpdateItem applies u and returns the item as stored.
	// Returns NotFound.
	UpdateItem(ctx context.Context, tenant, connID, id string, u ItemUpdate) (*Item, error)

	// DeleteItem deletes the item and its activities. Returns NotFound.
	DeleteItem(ctx context.Context, tenant, connID, id string) error

	// CountItems counts the connection's items. Returns NotFound if the
	// connection does not exist.
	CountItems(ctx context.Context, tenant, connID string) (int64, error)

	// CreateGroup stores g on connection g.ConnectionID; it sets g.Tenant,
	// g.Version, g.Created and g.Modified. Returns NotFound if the
	// connection does not exist, Exist if it has a group with g.ID.
	CreateGroup(ctx context.Context, tenant string, g *ExternalGroup) error

	// Group returns the external group. Returns NotFound.
	Group(ctx context.Context, tenant, connID, id string) (*ExternalGroup, error)

	// UpdateGroup applies u and returns the group as stored. Returns NotFound.
	UpdateGroup(ctx context.Context, tenant, connID, id string, u GroupUpdate) (*ExternalGroup, error)

	// DeleteGroup deletes the group and its members (not the groups it is a
	// member of: they keep naming it, as ACLs may). Returns NotFound.
	DeleteGroup(ctx context.Context, tenant, connID, id string) error

	// AddMember adds m to the group. Returns NotFound if the group does not
	// exist, Exist if it already has a member with m.ID.
	AddMember(ctx context.Context, tenant, connID, groupID string, m *Member) error

	// Members returns a page of the group's members in id order, and the
	// After of the next page ("" on the last page). Returns NotFound if the
	// group does not exist.
	Members(ctx context.Context, tenant, connID, groupID string, p Page) ([]*Member, string, error)

	// CountMembers counts the group's members. Returns NotFound if the group
	// does not exist.
	CountMembers(ctx context.Context, tenant, connID, groupID string) (int64, error)

	// RemoveMember removes the member id from the group. Returns NotFound if
	// the group does not exist or id is not one of its members.
	RemoveMember(ctx context.Context, tenant, connID, groupID, id string) error

	// AddActivities records the activities on the item, in one transaction.
	// Returns NotFound if the item does not exist.
	AddActivities(ctx context.Context, tenant, connID, itemID string, acts []Activity) error
}

var (
	itemIDPattern  = regexp.MustCompile(`^[A-Za-z0-9]{1,128}$`)
	groupIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

// ValidateItemID returns an Invalid error when id breaks Graph's rule for
// item ids: 1 to 128 alphanumeric characters.
func ValidateItemID(id string) error {
	if !itemIDPattern.MatchString(id) {
		return E(Invalid, "The item id '%s' is invalid: it must be 1 to 128 alphanumeric characters.", truncate(id))
	}
	return nil
}

// ValidateGroupID returns an Invalid error when id breaks Graph's rule for
// external group ids: 1 to 128 characters, alphanumeric or of the URL- and
// file-name-safe Base64 alphabet ('-' and '_'), which Graph's guide allows.
func ValidateGroupID(id string) error {
	if !groupIDPattern.MatchString(id) {
		return E(Invalid, "The external group id '%s' is invalid: it must be 1 to 128 letters, digits, '-' or '_'.", truncate(id))
	}
	return nil
}

// ItemNotFound, GroupNotFound and MemberNotFound are the NotFound errors of
// the item store, the same from every store.
func ItemNotFound(id string) error { return E(NotFound, "The item '%s' was not found.", id) }

// GroupNotFound: see ItemNotFound.
func GroupNotFound(id string) error {
	return E(NotFound, "The external group '%s' was not found.", id)
}

// MemberNotFound: see ItemNotFound.
func MemberNotFound(groupID, id string) error {
	return E(NotFound, "The external group '%s' has no member '%s'.", groupID, id)
}

// ValidMemberAfter reports whether after can be a Page.After of Members,
// the id of a member: UTF-8 text without NUL, which every store can hold.
// The stores answer Invalid for any other.
func ValidMemberAfter(after string) bool {
	return utf8.ValidString(after) && !strings.ContainsRune(after, 0)
}

// truncate keeps a client's id short enough to quote in a message.
func truncate(s string) string {
	const most = 140
	if len(s) <= most {
		return s
	}
	return s[:most] + "…"
}

// ItemLimitReached is PutItem's error when the connection holds maxItems
// items already.
func ItemLimitReached(connID string, maxItems int64) error {
	return E(Full, "The connection '%s' holds %d items, its limit; delete items before adding others.", connID, maxItems)
}
