package server

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/graphconn/graphconn/store"
)

// appendOperationJSON appends the JSON of operationToAPI(op), with
// @odata.context ctx and ETag tag, exactly as encoding/json writes it (json.Encoder,
// as Echo's c.JSON uses, with its newline): the seed's PATCH and GET answer
// with it on every request, and encoding/json's reflection over the
// generated type (and its map-based nullable error) cost a tenth of the
// handler's time. TestAppendOperationJSON holds it to encoding/json's
// output, and to the fields of the generated type; the response validator
// checks every answer against openapi.yaml as for any other.
//
// With graph, it writes today's shape (graphOperationToAPI): as here when
// there is no error, through encoding/json when there is one.
func appendOperationJSON(b []byte, graph bool, ctx, tag string, op *store.Operation) []byte {
	if graph && op.Error != nil {
		out := graphOperationToAPI(op)
		out.OdataContext = &ctx
		data, err := json.Marshal(out)
		if err != nil {
			panic(err) // the generated type always marshals
		}
		return append(append(b, data...), '\n')
	}
	b = append(b, `{"@odata.context":`...)
	b = appendJSONString(b, ctx)
	b = append(b, `,"@odata.etag":`...)
	b = appendJSONString(b, tag)
	if graph {
		b = append(b, `,"@odata.type":"`+string(graphOperationType)+`","error":`...)
	} else {
		b = append(b, `,"@odata.type":"`+string(operationType)+`","error":`...)
	}
	if op.Error == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"@odata.type":"`+string(errorDetailType)+`"`...)
		if op.Error.Details != nil {
			b = append(b, `,"details":[`...)
			for i, d := range op.Error.Details {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"@odata.type":"`+string(innerErrorDetailType)+`","source":`...)
				b = appendJSONString(b, d.Where())
				b = append(b, '}')
			}
			b = append(b, ']')
		}
		b = append(b, `,"errorCode":`...)
		b = appendJSONString(b, op.Error.Code)
		b = append(b, `,"message":`...)
		b = appendJSONString(b, op.Error.Message)
		b = append(b, '}')
	}
	b = append(b, `,"id":`...)
	b = appendJSONString(b, op.ID)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(op.Status))
	return append(b, "}\n"...)
}

// appendJSONString appends s as encoding/json writes a string: as is when
// it holds nothing that encoding/json escapes, through encoding/json
// otherwise.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			q, err := json.Marshal(s)
			if err != nil {
				// A Go string always marshals; keep the output JSON anyway.
				return strconv.AppendQuote(b, s)
			}
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
