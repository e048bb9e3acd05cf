// Package store holds graphconn's domain types and the Store interface that
// every storage engine implements. It knows nothing of HTTP.
package store

import (
	"context"
	"regexp"
	"strings"
	"time"
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
	ID          string
	Name        string
	Description string
	State       ConnectionState
	Version     int64 // incremented by every change
	Created     time.Time
	Modified    time.Time
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

// ErrorDetail says why an operation failed.
type ErrorDetail struct {
	Code    string             `json:"errorCode,omitempty"`
	Message string             `json:"message,omitempty"`
	Details []InnerErrorDetail `json:"details,omitempty"`
}

// InnerErrorDetail names the part of a request that caused an error.
type InnerErrorDetail struct {
	Source string `json:"source,omitempty"`
}

// Operation is a connectionOperation: a long-running operation on a connection.
type Operation struct {
	ConnectionID string
	ID           string
	Status       OperationStatus
	Error        *ErrorDetail // nil when there is none
	Version      int64        // incremented by every change
	Created      time.Time
	Modified     time.Time
}

// OperationUpdate holds the changes of a merge-patch: nil or false fields
// leave the stored value as it is.
type OperationUpdate struct {
	Status *OperationStatus
	// SetError replaces the stored error with Error; a nil Error clears it.
	SetError bool
	Error    *ErrorDetail
}

// Store keeps connections and their operations. Every method is atomic: when
// it returns an error, nothing has changed. Errors are *Error values whose Kind
// tells what went wrong; Unavailable when the database cannot be reached.
type Store interface {
	// CreateConnection stores c; it sets c.Version, c.Created and c.Modified.
	// Returns Conflict if a connection with c.ID exists.
	CreateConnection(ctx context.Context, c *Connection) error

	// Connection returns the connection with the given id.
	// Returns NotFound if there is none.
	Connection(ctx context.Context, id string) (*Connection, error)

	// CreateOperation stores op; it sets op.Version, op.Created and op.Modified.
	// Returns NotFound if op.ConnectionID names no connection, and Conflict if
	// the connection already has an operation with op.ID.
	CreateOperation(ctx context.Context, op *Operation) error

	// Operation returns the operation id of connection connID.
	// Returns NotFound if either does not exist.
	Operation(ctx context.Context, connID, id string) (*Operation, error)

	// UpdateOperation applies u to the operation id of connection connID and
	// returns the operation as stored after the change.
	// Returns NotFound if either does not exist.
	UpdateOperation(ctx context.Context, connID, id string, u OperationUpdate) (*Operation, error)

	// Close releases the store's resources.
	Close() error
}

var connectionIDPattern = regexp.MustCompile(`^[A-Za-z0-9]{3,32}$`)

// reservedConnectionIDs are the ids Microsoft keeps for its own connections,
// in lower case; the comparison ignores case.
var reservedConnectionIDs = map[string]bool{
	"none": true, "directory": true, "exchange": true, "exchangearchive": true,
	"linkedin": true, "mailbox": true, "onedrivebusiness": true, "sharepoint": true,
	"teams": true, "yammer": true, "connectors": true, "taskfabric": true,
	"powerbi": true, "assistant": true, "topicengine": true, "msft_all_connectors": true,
}

// ValidateConnectionID returns an Invalid error when id breaks Graph's rules
// for connection ids: 3 to 32 alphanumeric characters, not beginning with
// "Microsoft", and not one of the reserved names.
func ValidateConnectionID(id string) error {
	switch {
	case !connectionIDPattern.MatchString(id):
		return E(Invalid, "The connection id '%s' is invalid: it must be 3 to 32 alphanumeric characters.", id)
	case strings.HasPrefix(strings.ToLower(id), "microsoft"):
		return E(Invalid, "The connection id '%s' is invalid: it must not begin with 'Microsoft'.", id)
	case reservedConnectionIDs[strings.ToLower(id)]:
		return E(Invalid, "The connection id '%s' is reserved.", id)
	}
	return nil
}
