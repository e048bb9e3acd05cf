package server

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/graphconn/graphconn/gen"
	"github.com/graphconn/graphconn/store"
)

const (
	schemaType      = gen.MicrosoftGraphSchemaOdataType("#microsoft.graph.schema")
	graphSchemaType = gen.MicrosoftGraphExternalConnectorsSchemaOdataType("#microsoft.graph.externalConnectors.schema")
)

// ExternalConnectionsGetSchema reads a connection's registered schema.
func (s *Server) ExternalConnectionsGetSchema(c echo.Context, connID string, _ gen.ExternalConnectionsGetSchemaParams) error {
	if err := s.visible(c, connID); err != nil {
		return err
	}
	sch, err := s.store.Schema(c.Request().Context(), tenantOf(c), connID)
	if err != nil {
		return err
	}
	ctx := contextURL(c, connectionSet(c, connID)+"/schema/$entity")
	if today(c) {
		out := graphSchemaToAPI(sch, unknownEnumMembers(c))
		out.OdataContext = &ctx
		return c.JSON(http.StatusOK, out)
	}
	out := schemaToAPI(sch)
	out.OdataContext = &ctx
	return c.JSON(http.StatusOK, out)
}

// ExternalConnectionsUpdateSchema starts registering a schema: the
// background worker finishes the operation it creates after the configured
// delay, as Graph does after minutes.
func (s *Server) ExternalConnectionsUpdateSchema(c echo.Context, connID string, _ gen.ExternalConnectionsUpdateSchemaParams) error {
	if err := s.visible(c, connID); err != nil {
		return err
	}
	sch, err := decodeSchema(c)
	if err != nil {
		return err
	}
	if bad := store.ValidateSchema(sch); bad != nil {
		return badRequest("%s", truncate(bad.Message, 2000)) // nothing is registered
	}
	// A fault plan may say how this registration ends.
	var failure *store.ErrorDetail
	delay := s.operationDelay
	if rf := registrationFaultOf(c); rf != nil {
		failure = rf.failure
		if rf.hasDelay {
			delay = rf.delay
		}
	}
	op, err := s.store.RegisterSchema(c.Request().Context(), tenantOf(c), connID, sch, failure, time.Now().Add(delay))
	if err != nil {
		return err
	}
	s.notify()
	c.Response().Header().Set("Location", baseURL(c)+versionPrefix(c)+"/external/connections/"+connID+"/operations/"+op.ID)
	return c.NoContent(http.StatusAccepted)
}

// decodeSchema decodes the body of a schema registration, in the request's
// shape.
func decodeSchema(c echo.Context) (*store.Schema, error) {
	if today(c) {
		var body gen.MicrosoftGraphExternalConnectorsSchema
		if err := decodeBody(c, &body); err != nil {
			return nil, err
		}
		return graphSchemaFromAPI(body), nil
	}
	var body gen.MicrosoftGraphSchema
	if err := decodeBody(c, &body); err != nil {
		return nil, err
	}
	return schemaFromAPI(body), nil
}

func schemaFromAPI(in gen.MicrosoftGraphSchema) *store.Schema {
	out := &store.Schema{BaseType: string(in.BaseType), Properties: make([]store.Property, len(in.Properties))}
	for i, p := range in.Properties {
		sp := store.Property{
			Name: p.Name, Type: store.PropertyType(p.Type), Description: deref(p.Description),
			IsSearchable: deref(p.IsSearchable), IsQueryable: deref(p.IsQueryable), IsRetrievable: deref(p.IsRetrievable),
			IsRefinable: deref(p.IsRefinable), IsExactMatchRequired: deref(p.IsExactMatchRequired),
			Aliases: deref(p.Aliases),
		}
		for _, l := range deref(p.Labels) {
			sp.Labels = append(sp.Labels, string(l))
		}
		out.Properties[i] = sp
	}
	return out
}

// schemaToAPI writes every attribute of every property, as Graph does.
func schemaToAPI(in *store.Schema) gen.MicrosoftGraphSchema {
	t := schemaType
	out := gen.MicrosoftGraphSchema{OdataType: &t, BaseType: gen.MicrosoftGraphSchemaBaseType(in.BaseType),
		Properties: make([]gen.MicrosoftGraphProperty, len(in.Properties))}
	out.Properties = out.Properties[:0]
	for i, p := range in.Properties {
		if !gen.MicrosoftGraphPropertyType(p.Type).Valid() {
			continue // a type the early beta did not have
		}
		labels := make([]gen.MicrosoftGraphLabel, 0, len(p.Labels))
		for _, l := range p.Labels {
			if gen.MicrosoftGraphLabel(l).Valid() {
				labels = append(labels, gen.MicrosoftGraphLabel(l))
			}
		}
		aliases := append([]string{}, p.Aliases...)
		prop := gen.MicrosoftGraphProperty{
			Name: p.Name, Type: gen.MicrosoftGraphPropertyType(p.Type),
			IsSearchable: &p.IsSearchable, IsQueryable: &p.IsQueryable, IsRetrievable: &p.IsRetrievable,
			IsRefinable: &p.IsRefinable, IsExactMatchRequired: &p.IsExactMatchRequired,
			Labels: &labels, Aliases: &aliases,
		}
		if p.Description != "" {
			prop.Description = &in.Properties[i].Description
		}
		out.Properties = append(out.Properties, prop)
	}
	return out
}

// graphSchemaFromAPI is schemaFromAPI for today's shape, whose property
// types may be spelt as Graph's examples do ("String", "DateTime").
func graphSchemaFromAPI(in gen.MicrosoftGraphExternalConnectorsSchema) *store.Schema {
	out := &store.Schema{BaseType: string(in.BaseType), Properties: make([]store.Property, len(in.Properties))}
	for i, p := range in.Properties {
		t := string(p.Type)
		sp := store.Property{
			Name: p.Name, Type: store.PropertyType(strings.ToLower(t[:1]) + t[1:]), Description: deref(p.Description),
			IsSearchable: deref(p.IsSearchable), IsQueryable: deref(p.IsQueryable), IsRetrievable: deref(p.IsRetrievable),
			IsRefinable: deref(p.IsRefinable), IsExactMatchRequired: deref(p.IsExactMatchRequired),
			Aliases: deref(p.Aliases),
		}
		for _, l := range deref(p.Labels) {
			sp.Labels = append(sp.Labels, string(l))
		}
		out.Properties[i] = sp
	}
	return out
}

// evolvable writes a member of an evolvable enumeration: those after
// unknownFutureValue (in order, the members of later) as unknownFutureValue,
// unless the request asked for them (include).
func evolvable(v string, later []string, include bool) string {
	if !include && slices.Contains(later, v) {
		return "unknownFutureValue"
	}
	return v
}

// The members of today's evolvable enumerations that come after
// unknownFutureValue.
var (
	laterPropertyTypes = []string{string(store.TypePrincipal), string(store.TypePrincipalCollection)}
	laterLabels        = []string{"containerName", "containerUrl", "iconUrl", "assignedToPeople", "closedBy", "closedDate",
		"priority", "sprintName", "tags", "severity", "state", "dueDate", "itemParentId", "itemPath", "itemType",
		"numberOfReactions", "parentUrl", "priorityNormalized", "reportedBy", "secondaryId"}
)

// graphSchemaToAPI is schemaToAPI in today's shape; include writes the
// members of evolvable enumerations after unknownFutureValue as they are.
func graphSchemaToAPI(in *store.Schema, include bool) gen.MicrosoftGraphExternalConnectorsSchema {
	t := graphSchemaType
	out := gen.MicrosoftGraphExternalConnectorsSchema{OdataType: &t, BaseType: gen.MicrosoftGraphExternalConnectorsSchemaBaseType(in.BaseType),
		Properties: make([]gen.MicrosoftGraphExternalConnectorsProperty, len(in.Properties))}
	for i, p := range in.Properties {
		labels := make([]gen.MicrosoftGraphExternalConnectorsLabel, 0, len(p.Labels))
		for _, l := range p.Labels {
			l = evolvable(l, laterLabels, include)
			if !slices.Contains(labels, gen.MicrosoftGraphExternalConnectorsLabel(l)) { // unknownFutureValue once
				labels = append(labels, gen.MicrosoftGraphExternalConnectorsLabel(l))
			}
		}
		aliases := append([]string{}, p.Aliases...)
		out.Properties[i] = gen.MicrosoftGraphExternalConnectorsProperty{
			Name: p.Name, Type: gen.MicrosoftGraphExternalConnectorsPropertyType(evolvable(string(p.Type), laterPropertyTypes, include)),
			IsSearchable: &p.IsSearchable, IsQueryable: &p.IsQueryable, IsRetrievable: &p.IsRetrievable,
			IsRefinable: &p.IsRefinable, IsExactMatchRequired: &p.IsExactMatchRequired,
			Labels: &labels, Aliases: &aliases,
		}
		if p.Description != "" {
			out.Properties[i].Description = &in.Properties[i].Description
		}
	}
	return out
}
