package store

import (
	"regexp"
	"strings"
)

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

// ConnectionNotFound is the error for a connection that does not exist, or
// that the caller may not see: the two must read the same.
func ConnectionNotFound(id string) error {
	return E(NotFound, "The connection '%s' was not found.", id)
}
