package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/graphconn/graphconn/gen"
	"github.com/graphconn/graphconn/store"
)

const schemaType = gen.MicrosoftGraphSchemaOdataType("#microsoft.graph.schema")

// ExternalConnectionsGetSchema reads a connection's registered schema.
func (s *Server) ExternalConnectionsGetSchema(c echo.Context, connID string, _ gen.ExternalConnectionsGetSchemaParams) error {
	if err := s.visible(c, connID); err != nil {
		return err
	}
	sch, err := s.store.Schema(c.Request().Context(), tenantOf(c), connID)
	if err != nil {
		return err
	}
	out := schemaToAPI(sch)
	ctx := contextURL(c, connectionSet(c, connID)+"/schema/$entity")
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
	var body gen.MicrosoftGraphSchema
	if err := decodeBody(c, &body); err != nil {
		return err
	}
	sch := schemaFromAPI(body)
	op, err := s.store.RegisterSchema(c.Request().Context(), tenantOf(c), connID, sch, store.ValidateSchema(sch), time.Now().Add(s.operationDelay))
	if err != nil {
		return err
	}
	s.notify()
	c.Response().Header().Set("Location", baseURL(c)+"/external/connections/"+connID+"/operations/"+op.ID)
	return c.NoContent(http.StatusAccepted)
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
	for i, p := range in.Properties {
		labels := make([]gen.MicrosoftGraphLabel, len(p.Labels))
		for j, l := range p.Labels {
			labels[j] = gen.MicrosoftGraphLabel(l)
		}
		aliases := append([]string{}, p.Aliases...)
		out.Properties[i] = gen.MicrosoftGraphProperty{
			Name: p.Name, Type: gen.MicrosoftGraphPropertyType(p.Type),
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
