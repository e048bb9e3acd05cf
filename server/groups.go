package server

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/graphconn/graphconn/gen"
	"github.com/graphconn/graphconn/store"
)

const (
	groupTypeName          = "#microsoft.graph.externalConnectors.externalGroup"
	identityTypeName       = "#microsoft.graph.externalConnectors.identity"
	activityResultTypeName = "#microsoft.graph.externalConnectors.externalActivityResult"
	// activityClockSkew is how far in the future an activity may start: the
	// clocks of a connector and of graphconn may differ.
	activityClockSkew = 5 * time.Minute
)

type groupOut struct {
	Context     string `json:"@odata.context,omitempty"`
	Type        string `json:"@odata.type"`
	ID          string `json:"id"`
	DisplayName string `json:"displayName,omitempty"`
	Description string `json:"description,omitempty"`
}

func groupToAPI(c echo.Context, g *store.ExternalGroup) groupOut {
	return groupOut{Context: contextURL(c, connectionSet(c, g.ConnectionID)+"/groups/$entity"), Type: groupTypeName,
		ID: g.ID, DisplayName: g.DisplayName, Description: g.Description}
}

// ExternalConnectionsCreateGroups creates an external group.
func (s *Server) ExternalConnectionsCreateGroups(c echo.Context, connID string, _ gen.ExternalConnectionsCreateGroupsParams) error {
	if _, err := s.itemConnection(c, connID); err != nil {
		return err
	}
	var body gen.MicrosoftGraphExternalConnectorsExternalGroup
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if body.Id == nil {
		return badRequest("The property 'id' is required to create an external group.")
	}
	if err := store.ValidateGroupID(*body.Id); err != nil {
		return err
	}
	g := &store.ExternalGroup{ConnectionID: connID, ID: *body.Id, DisplayName: deref(body.DisplayName), Description: deref(body.Description)}
	if err := s.store.CreateGroup(c.Request().Context(), tenantOf(c), g); err != nil {
		return err
	}
	c.Response().Header().Set("Location", baseURL(c)+versionPrefix(c)+"/external/connections/"+connID+"/groups/"+g.ID)
	return c.JSON(http.StatusCreated, groupToAPI(c, g))
}

// ExternalConnectionsGetGroups reads an external group.
func (s *Server) ExternalConnectionsGetGroups(c echo.Context, connID, groupID string, _ gen.ExternalConnectionsGetGroupsParams) error {
	if _, err := s.itemConnection(c, connID); err != nil {
		return err
	}
	g, err := s.store.Group(c.Request().Context(), tenantOf(c), connID, groupID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, groupToAPI(c, g))
}

// ExternalConnectionsUpdateGroups changes an external group's name or
// description.
func (s *Server) ExternalConnectionsUpdateGroups(c echo.Context, connID, groupID string, _ gen.ExternalConnectionsUpdateGroupsParams) error {
	if _, err := s.itemConnection(c, connID); err != nil {
		return err
	}
	var body gen.MicrosoftGraphExternalConnectorsExternalGroup
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	if body.Id != nil && *body.Id != groupID {
		return badRequest("The property 'id' is read-only: '%s' differs from the group's id '%s'.", truncate(*body.Id, 130), groupID)
	}
	u := store.GroupUpdate{DisplayName: body.DisplayName, Description: body.Description}
	if _, err := s.store.UpdateGroup(c.Request().Context(), tenantOf(c), connID, groupID, u); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// ExternalConnectionsDeleteGroups deletes an external group and its
// members.
func (s *Server) ExternalConnectionsDeleteGroups(c echo.Context, connID, groupID string, _ gen.ExternalConnectionsDeleteGroupsParams) error {
	if _, err := s.itemConnection(c, connID); err != nil {
		return err
	}
	if err := s.store.DeleteGroup(c.Request().Context(), tenantOf(c), connID, groupID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type identityOut struct {
	Context        string `json:"@odata.context,omitempty"`
	Type           string `json:"@odata.type"`
	ID             string `json:"id"`
	Kind           string `json:"type"`
	IdentitySource string `json:"identitySource,omitempty"`
}

func identityToAPI(m *store.Member, ctx string) identityOut {
	return identityOut{Context: ctx, Type: identityTypeName, ID: m.ID, Kind: m.Type, IdentitySource: m.IdentitySource}
}

func membersSet(c echo.Context, connID, groupID string) string {
	return connectionSet(c, connID) + "/groups('" + groupID + "')/members"
}

// ExternalConnectionsGroupsCreateMembers adds a member to an external group.
func (s *Server) ExternalConnectionsGroupsCreateMembers(c echo.Context, connID, groupID string, _ gen.ExternalConnectionsGroupsCreateMembersParams) error {
	if _, err := s.itemConnection(c, connID); err != nil {
		return err
	}
	var body gen.MicrosoftGraphExternalConnectorsIdentity
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	m := &store.Member{ID: body.Id, Type: "user"}
	if body.Type != nil {
		m.Type = string(*body.Type)
	}
	if m.Type == "unknownFutureValue" {
		return badRequest("A member must be of type user, group or externalGroup, not unknownFutureValue.")
	}
	if m.Type == "externalGroup" {
		if err := store.ValidateGroupID(m.ID); err != nil {
			return err
		}
	}
	if body.IdentitySource != nil {
		m.IdentitySource = string(*body.IdentitySource)
	}
	if err := s.store.AddMember(c.Request().Context(), tenantOf(c), connID, groupID, m); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, identityToAPI(m, contextURL(c, membersSet(c, connID, groupID)+"/$entity")))
}

// ExternalConnectionsGroupsListMembers lists an external group's members.
func (s *Server) ExternalConnectionsGroupsListMembers(c echo.Context, connID, groupID string, p gen.ExternalConnectionsGroupsListMembersParams) error {
	if _, err := s.itemConnection(c, connID); err != nil {
		return err
	}
	pg, err := page(p.Top, p.Skiptoken, maxMembersPage)
	if err != nil {
		return err
	}
	members, next, err := s.store.Members(c.Request().Context(), tenantOf(c), connID, groupID, pg)
	if err != nil {
		return err
	}
	values := make([]any, len(members))
	for i, m := range members {
		values[i] = identityToAPI(m, "")
	}
	out := collection{Context: contextURL(c, membersSet(c, connID, groupID)), Value: values, NextLink: nextLink(c, next)}
	if p.Count != nil && *p.Count {
		n, err := s.store.CountMembers(c.Request().Context(), tenantOf(c), connID, groupID)
		if err != nil {
			return err
		}
		out.Count = &n
	}
	return c.JSON(http.StatusOK, out)
}

// maxMembersPage is identityCollection's maxItems in openapi.yaml.
const maxMembersPage = 1000

// ExternalConnectionsGroupsCountMembers counts an external group's members.
func (s *Server) ExternalConnectionsGroupsCountMembers(c echo.Context, connID, groupID string, _ gen.ExternalConnectionsGroupsCountMembersParams) error {
	if _, err := s.itemConnection(c, connID); err != nil {
		return err
	}
	n, err := s.store.CountMembers(c.Request().Context(), tenantOf(c), connID, groupID)
	if err != nil {
		return err
	}
	return writeCount(c, n)
}

// ExternalConnectionsGroupsDeleteMembers removes a member from an external
// group.
func (s *Server) ExternalConnectionsGroupsDeleteMembers(c echo.Context, connID, groupID, memberID string, _ gen.ExternalConnectionsGroupsDeleteMembersParams) error {
	if _, err := s.itemConnection(c, connID); err != nil {
		return err
	}
	if err := s.store.RemoveMember(c.Request().Context(), tenantOf(c), connID, groupID, memberID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type activityResultOut struct {
	Type          string          `json:"@odata.type"`
	ID            string          `json:"id,omitempty"`
	Kind          string          `json:"type"`
	StartDateTime string          `json:"startDateTime"`
	PerformedBy   *identityOut    `json:"performedBy,omitempty"`
	Error         *publicErrorOut `json:"error"`
}

type publicErrorOut struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target,omitempty"`
}

// ExternalConnectionsItemsAddActivities records activities on an item:
// those that can be, and for each refused one, why.
func (s *Server) ExternalConnectionsItemsAddActivities(c echo.Context, connID, itemID string, _ gen.ExternalConnectionsItemsAddActivitiesParams) error {
	if _, err := s.itemConnection(c, connID); err != nil {
		return err
	}
	var body gen.MicrosoftGraphExternalConnectorsAddActivitiesRequest
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	now := time.Now()
	results := make([]activityResultOut, len(body.Activities))
	var acts []store.Activity
	refused := false
	for i, a := range body.Activities {
		r := activityResultOut{Type: activityResultTypeName, ID: deref(a.Id), Kind: string(a.Type),
			StartDateTime: a.StartDateTime.UTC().Format(time.RFC3339Nano)}
		act := store.Activity{Type: string(a.Type), StartDateTime: a.StartDateTime}
		if a.PerformedBy != nil {
			m := store.Member{ID: a.PerformedBy.Id, Type: "user"}
			if a.PerformedBy.Type != nil {
				m.Type = string(*a.PerformedBy.Type)
			}
			if a.PerformedBy.IdentitySource != nil {
				m.IdentitySource = string(*a.PerformedBy.IdentitySource)
			}
			out := identityToAPI(&m, "")
			r.PerformedBy = &out
			act.PerformedBy = m
		}
		where := fmt.Sprintf("activities/%d", i)
		switch {
		case a.Type == "unknownFutureValue":
			r.Error = &publicErrorOut{Code: "invalidActivity", Message: "The activity's type must be viewed, modified, created or commented.", Target: where + "/type"}
		case a.StartDateTime.After(now.Add(activityClockSkew)):
			r.Error = &publicErrorOut{Code: "invalidActivity", Message: "The activity starts in the future.", Target: where + "/startDateTime"}
		case act.PerformedBy.Type != "" && act.PerformedBy.Type != "user":
			r.Error = &publicErrorOut{Code: "invalidActivity", Message: fmt.Sprintf("An activity is performed by a user, not by a %s.", act.PerformedBy.Type), Target: where + "/performedBy/type"}
		default:
			acts = append(acts, act)
		}
		refused = refused || r.Error != nil
		results[i] = r
	}
	if _, err := s.store.Item(c.Request().Context(), tenantOf(c), connID, itemID); err != nil {
		return err // the item must exist, whatever is refused
	}
	if len(acts) > 0 {
		if err := s.store.AddActivities(c.Request().Context(), tenantOf(c), connID, itemID, acts); err != nil {
			return err
		}
	}
	status := http.StatusOK
	if refused {
		status = http.StatusMultiStatus
	}
	return c.JSON(status, struct {
		Context string              `json:"@odata.context"`
		Value   []activityResultOut `json:"value"`
	}{contextURL(c, "Collection(microsoft.graph.externalConnectors.externalActivityResult)"), results})
}

// BetaExternalConnectionsGetQuota says how many more items a connection
// takes (beta only).
func (s *Server) BetaExternalConnectionsGetQuota(c echo.Context, connID string, _ gen.BetaExternalConnectionsGetQuotaParams) error {
	if err := s.visible(c, connID); err != nil {
		return err
	}
	conn, err := s.store.Connection(c.Request().Context(), tenantOf(c), connID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, struct {
		Context        string `json:"@odata.context"`
		Type           string `json:"@odata.type"`
		ID             string `json:"id"`
		ItemsRemaining int64  `json:"itemsRemaining"`
	}{contextURL(c, connectionSet(c, connID)+"/quota/$entity"), "#microsoft.graph.externalConnectors.connectionQuota",
		connID, max(0, s.maxItems-conn.ItemCount)})
}
