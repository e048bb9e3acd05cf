// Package store holds graphconn's domain types and the Store interface that
// every storage engine implements. It knows nothing of HTTP.
package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// ConnectionState is the lifecycle state of a Connection.
type ConnectionState string

// The states of a connection.
const (
	ConnectionDraft         ConnectionState = "draft"
	ConnectionReady         ConnectionState = "ready"
	ConnectionObsolete      ConnectionState = "obsolete"
	ConnectionLimitExceeded ConnectionState = "limitExceeded"
)

// Connection is an externalConnection: a source of external items.
type Connection struct {
	// Tenant is the tenant the connection belongs to, as the store was
	// given it: no other tenant sees the connection, and ids are unique
	// within a tenant only, as in Graph.
	Tenant      string
	ID          string
	Name        string
	Description string
	State       ConnectionState
	// Owner is the app id of the application that created the connection:
	// an app holding only ExternalConnection.ReadWrite.OwnedBy sees only its
	// own connections.
	Owner string
	// Version changes with every write and never repeats for an id, even
	// across a delete and a re-create: it is the connection's ETag.
	Version  int64
	Created  time.Time
	Modified time.Time
	// Settings holds the connection's other properties of today's Graph
	// shape (configuration, activitySettings, searchSettings, connectorId,
	// contentCategory...), by name, each as the JSON value it was given.
	//
	// The store keeps the properties whose value is not JSON null (a nil
	// or empty json.RawMessage counts as null). It returns each value in
	// one canonical form, the same bytes from every store: compact, the
	// members of objects in byte order of their names, strings escaped as
	// encoding/json escapes them but without its HTML escapes. Numbers keep
	// their spelling, except that PostgreSQL writes them as its numeric
	// type does (1e2 reads back as 100; 1.50 stays 1.50). Settings is nil
	// when there are none. A value that is not JSON is Invalid, as is, on
	// PostgreSQL, a string holding U+0000.
	Settings map[string]json.RawMessage
	// ItemCount is the number of the connection's items, kept by the store
	// in the transactions that add and delete them (beta's
	// ingestedItemsCount and quota read it).
	ItemCount int64
}

// ConnectionUpdate holds the changes of a merge-patch of a connection: nil
// fields keep their values.
type ConnectionUpdate struct {
	Name        *string
	Description *string
	// Settings replaces each named property; a JSON null removes it.
	//
	// Each property is replaced as a whole, as Connection.Settings holds
	// it: a value that is an object is not merged into the stored one. A
	// nil or empty Settings leaves the properties as they are.
	Settings map[string]json.RawMessage
	IfMatch  []int64 // when not nil, the update applies only at one of these versions
}

// OperationStatus is the status of an Operation. Values are case-sensitive.
type OperationStatus string

// The statuses of an operation.
const (
	StatusUnspecified OperationStatus = "unspecified"
	StatusInProgress  OperationStatus = "inprogress"
	StatusCompleted   OperationStatus = "completed"
	StatusFailed      OperationStatus = "failed"
)

// Terminal reports whether s is final: completed or failed.
func (s OperationStatus) Terminal() bool { return s == StatusCompleted || s == StatusFailed }

// ErrorDetail says why an operation failed.
type ErrorDetail struct {
	Code    string             `json:"errorCode,omitempty"`
	Message string             `json:"message,omitempty"`
	Target  string             `json:"target,omitempty"`
	Details []InnerErrorDetail `json:"details,omitempty"`
	// Inner is publicError's innerError (today's Graph shape), if any.
	Inner *ErrorDetail `json:"innerError,omitempty"`
}

// InnerErrorDetail is one detail of an error: the early beta's names the
// part of a request that caused it (Source), today's Graph has a code, a
// message and a target.
type InnerErrorDetail struct {
	Source  string `json:"source,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	Target  string `json:"target,omitempty"`
}

// Where is the part of the request the detail names: Source in the early
// beta's shape, Target in today's; either when the other is unset.
func (d InnerErrorDetail) Where() string {
	if d.Source != "" {
		return d.Source
	}
	return d.Target
}

// Operation is a connectionOperation: a long-running operation on a connection.
type Operation struct {
	Tenant       string // the connection's
	ConnectionID string
	ID           string
	Status       OperationStatus
	Error        *ErrorDetail // nil when there is none
	Version      int64        // as Connection.Version: the operation's ETag
	Created      time.Time
	Modified     time.Time
}

// OperationUpdate holds the changes of a merge-patch of an operation: nil or
// false fields leave the stored value as it is.
//
// An update applies whatever the operation's status. One that makes it
// terminal (completed or failed) ends the schema registration it was
// running, if any: the background worker leaves the operation as the
// client set it, and the schema is not applied.
type OperationUpdate struct {
	Status *OperationStatus
	// SetError replaces the stored error with Error; a nil Error clears it.
	SetError bool
	Error    *ErrorDetail
	IfMatch  []int64 // when not nil, the update applies only at one of these versions
}

// Page asks for one page of a list.
type Page struct {
	Limit int    // at most this many items
	After string // the Next of the previous page; "" for the first
}

// Store keeps connections, their schemas and their operations. Every method
// is atomic: when it returns an error, nothing has changed. Errors are
// *Error values whose Kind tells what went wrong; any method may return
// Unavailable when the database cannot be reached or when ctx ends before
// the call completes, and Invalid for a Page.After it did not make.
//
// Every connection belongs to a tenant, and the methods that name a
// connection take its tenant too: a connection of another tenant is
// NotFound, with the same message as one that does not exist, and another
// tenant may have a connection with the same id. The operations and the
// schema of a connection belong to its tenant. A tenant is an opaque string
// to the store; callers give it in one canonical form (auth.ParseTenantID).
type Store interface {
	ItemStore
	Searcher

	// CreateConnection stores c in the draft state in the tenant; it sets
	// c.Tenant, c.State, c.Version, c.Created and c.Modified, and
	// c.Settings to the settings as stored (see Connection.Settings).
	// Returns Exist if the tenant has a connection with c.ID.
	CreateConnection(ctx context.Context, tenant string, c *Connection) error

	// Connection returns the tenant's connection with the given id.
	// Returns NotFound if there is none.
	Connection(ctx context.Context, tenant, id string) (*Connection, error)

	// CountConnections counts the tenant's connections, those of owner
	// only unless owner is "".
	CountConnections(ctx context.Context, tenant, owner string) (int64, error)

	// Connections returns a page of the tenant's connections in id order,
	// only those of the given owner unless owner is "", and the After of the
	// next page ("" on the last page).
	Connections(ctx context.Context, tenant, owner string, p Page) ([]*Connection, string, error)

	// UpdateConnection applies u and returns the connection as stored.
	// Returns NotFound, or PreconditionFailed when u.IfMatch does not match.
	UpdateConnection(ctx context.Context, tenant, id string, u ConnectionUpdate) (*Connection, error)

	// DeleteConnection deletes the connection, its schema, its operations,
	// and its items, external groups and activities (see ItemStore).
	// Returns NotFound, or PreconditionFailed when ifMatch (if not nil)
	// does not hold the connection's version.
	DeleteConnection(ctx context.Context, tenant, id string, ifMatch []int64) error

	// CreateOperation stores op on the tenant's connection op.ConnectionID;
	// it sets op.Tenant, op.Version, op.Created and op.Modified.
	// Returns NotFound if the tenant has no connection op.ConnectionID, and
	// Exist if the connection already has an operation with op.ID.
	CreateOperation(ctx context.Context, tenant string, op *Operation) error

	// Operation returns the operation id of connection connID.
	// Returns NotFound if either does not exist.
	Operation(ctx context.Context, tenant, connID, id string) (*Operation, error)

	// Operations returns a page of the connection's operations, oldest
	// first, only those with the given status when status is not nil, and
	// the After of the next page ("" on the last page).
	// Returns NotFound if the connection does not exist.
	Operations(ctx context.Context, tenant, connID string, status *OperationStatus, p Page) ([]*Operation, string, error)

	// CountOperations counts the operations of connection connID, those of
	// status only unless it is nil.
	// Returns NotFound if the connection does not exist.
	CountOperations(ctx context.Context, tenant, connID string, status *OperationStatus) (int64, error)

	// UpdateOperation applies u to the operation id of connection connID and
	// returns the operation as stored after the change.
	// Returns NotFound if either does not exist, and PreconditionFailed when
	// u.IfMatch does not match.
	UpdateOperation(ctx context.Context, tenant, connID, id string, u OperationUpdate) (*Operation, error)

	// DeleteOperation deletes the operation; a schema registration it was
	// running is abandoned. Returns NotFound, or PreconditionFailed when
	// ifMatch (if not nil) does not hold the operation's version.
	DeleteOperation(ctx context.Context, tenant, connID, id string, ifMatch []int64) error

	// Schema returns the connection's registered schema.
	// Returns NotFound if the connection does not exist or has no schema yet.
	Schema(ctx context.Context, tenant, connID string) (*Schema, error)

	// RegisterSchema starts registering s on the connection: it creates an
	// operation in progress, which FinishDue completes at due, or fails with
	// failure when failure is not nil.
	// Returns NotFound if the connection does not exist, and Conflict if a
	// registration is already in progress on it.
	RegisterSchema(ctx context.Context, tenant, connID string, s *Schema, failure *ErrorDetail, due time.Time) (*Operation, error)

	// PendingOperations counts the registrations that wait for FinishDue,
	// in every tenant.
	PendingOperations(ctx context.Context) (int, error)

	// NextDue returns when the earliest pending registration of any tenant
	// falls due, and false when none is pending.
	NextDue(ctx context.Context) (time.Time, bool, error)

	// FinishDue finishes one registration due at or before now, of any
	// tenant, and returns its operation, Tenant set (nil when none was due).
	// It completes the operation, stores the schema and makes the connection
	// ready; or, when the registration carried a failure, fails the operation
	// with it. An operation that a client has already made terminal is left
	// as it is. Each registration is finished exactly once, however many
	// callers race.
	FinishDue(ctx context.Context, now time.Time) (*Operation, error)

	// Close releases the store's resources.
	Close() error
}

// NewOperationID returns a new operation id: a random GUID, as Graph's.
func NewOperationID() string { return uuid.NewString() }
