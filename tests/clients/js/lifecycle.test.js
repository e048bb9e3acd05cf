// A connector's lifecycle through Microsoft's JavaScript client for Graph
// (@microsoft/microsoft-graph-client, pinned in package-lock.json) against
// the real graphconn binary over HTTPS. run.sh starts `graphconn serve
// --tls`, and hands this test the server's base URL (GRAPHCONN_BASE_URL,
// https://127.0.0.1:PORT/), a token (GRAPHCONN_TOKEN) and its development
// CA (NODE_EXTRA_CA_CERTS, which node reads only as it starts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, GraphError, ResponseType } from "@microsoft/microsoft-graph-client";

const baseUrl = process.env.GRAPHCONN_BASE_URL;
const token = process.env.GRAPHCONN_TOKEN;

// Whether the connection is created with activitySettings and
// searchSettings, as the issue asks and as public connector samples do.
// GRAPHCONN_CLIENTS_SETTINGS=off leaves them out, to run the rest of the
// lifecycle against a server that does not know them yet.
const sendSettings = process.env.GRAPHCONN_CLIENTS_SETTINGS !== "off";

// The client as public samples build it, but for baseUrl and customHosts:
// the client adds the token only to https URLs of Graph's hosts and of
// customHosts.
function newClient() {
  assert.ok(baseUrl && token, "GRAPHCONN_BASE_URL and GRAPHCONN_TOKEN are not set: run this test with run.sh");
  return Client.initWithMiddleware({
    authProvider: { getAccessToken: async () => token },
    customHosts: new Set([new URL(baseUrl).hostname]),
    baseUrl,
  });
}

const activitySettings = {
  urlToItemResolvers: [
    {
      "@odata.type": "#microsoft.graph.externalConnectors.itemIdResolver",
      urlMatchInfo: { baseUrls: ["https://contoso.com"], urlPattern: "/tickets/(?<id>[0-9]+)" },
      itemId: "{id}",
      priority: 1,
    },
  ],
};

const searchSettings = {
  searchResultTemplates: [
    {
      id: "tickets",
      priority: 1,
      layout: {
        type: "AdaptiveCard",
        version: "1.3",
        $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
        body: [
          { type: "TextBlock", text: "${ticketTitle}", weight: "bolder", size: "medium" },
          { type: "TextBlock", text: "Opened ${opened}", isSubtle: true, spacing: "none" },
        ],
      },
      rules: [{ property: "ticketTitle", operation: "contains", values: ["a"], valuesJoinedBy: "or" }],
    },
  ],
};

const schema = {
  baseType: "microsoft.graph.externalItem",
  properties: [
    { name: "ticketTitle", type: "String", isSearchable: true, isRetrievable: true, labels: ["title"] },
    { name: "opened", type: "DateTime", isQueryable: true, isRetrievable: true, labels: ["createdDateTime"] },
    { name: "priority", type: "Int64", isQueryable: true, isRefinable: true, isRetrievable: true },
  ],
};

const publicError = {
  code: "ContentTooLarge",
  message: "An item was too large.",
  target: "items/42",
  details: [{ code: "Size", message: "4 MiB at most", target: "content" }],
  innerError: { code: "Inner", message: "The item's content was 5 MiB.", target: "items/42/content" },
};

// What the server said, from an error the client threw.
function describe(err) {
  if (err instanceof GraphError) {
    return `${err.statusCode} ${err.code}: ${err.message}`;
  }
  return String(err);
}

// calls await call(), and fails with what the server said if it throws.
async function ok(what, call) {
  try {
    return await call();
  } catch (err) {
    assert.fail(`${what}: ${describe(err)}`);
  }
}

// withoutODataType is v and what it holds without their @odata.type.
function withoutODataType(v) {
  if (Array.isArray(v)) return v.map(withoutODataType);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).filter(([k]) => k !== "@odata.type").map(([k, e]) => [k, withoutODataType(e)]));
  }
  return v;
}

test("a connector's lifecycle through @microsoft/microsoft-graph-client", async () => {
  const client = newClient();
  const id = "contosotickets";
  const conn = `/external/connections/${id}`;

  // Create.
  const body = { id, name: "Contoso tickets", description: "Tickets of Contoso's help desk" };
  if (sendSettings) {
    Object.assign(body, { activitySettings, searchSettings });
  }
  let created;
  try {
    created = await client.api("/external/connections").post(body);
  } catch (err) {
    if (sendSettings && err instanceof GraphError && err.statusCode === 400 && /activitySettings|searchSettings/.test(err.message)) {
      assert.fail(
        `POST /external/connections with activitySettings and searchSettings: ${describe(err)}\n` +
          "The server's connection does not have these properties yet (issue 15). " +
          "GRAPHCONN_CLIENTS_SETTINGS=off runs the rest of the lifecycle without them.",
      );
    }
    assert.fail(`POST /external/connections: ${describe(err)}`);
  }
  assert.equal(created.id, id);
  assert.equal(created.name, "Contoso tickets");

  // Read it back.
  const got = await ok("GET connection", () => client.api(conn).get());
  assert.equal(got.description, "Tickets of Contoso's help desk");
  if (sendSettings) {
    assert.deepEqual(got.activitySettings?.urlToItemResolvers?.map(withoutODataType), activitySettings.urlToItemResolvers.map(withoutODataType));
    assert.equal(got.activitySettings.urlToItemResolvers[0]["@odata.type"], "#microsoft.graph.externalConnectors.itemIdResolver");
    assert.deepEqual(withoutODataType(got.searchSettings?.searchResultTemplates), searchSettings.searchResultTemplates);
  }

  // Register a schema: 202 with the operation in Location.
  const res = await client.api(`${conn}/schema`).responseType(ResponseType.RAW).patch(schema);
  assert.equal(res.status, 202, `PATCH schema = ${res.status} ${await res.text()}`);
  const location = res.headers.get("Location");
  const prefix = new URL(`v1.0${conn}/operations/`, baseUrl).href;
  assert.ok(location?.startsWith(prefix) && location.length > prefix.length, `Location = ${location}, want an operation under ${prefix}`);
  const opId = location.slice(prefix.length);

  // Poll the operation at Location until it completes.
  const seen = [];
  let op;
  for (const deadline = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 100))) {
    op = await ok(`GET ${location}`, () => client.api(location).get());
    if (seen.at(-1) !== op.status) seen.push(op.status);
    if (op.status !== "inprogress" || Date.now() > deadline) break;
  }
  assert.equal(seen.at(-1), "completed", `registration went ${seen}`);
  assert.equal(op.error ?? null, null);
  assert.equal(op.id, opId);

  // The schema as registered.
  const registered = await ok("GET schema", () => client.api(`${conn}/schema`).get());
  assert.deepEqual(
    registered.properties.map((p) => p.name),
    ["ticketTitle", "opened", "priority"],
  );

  // The connection's operations list it.
  const ops = await ok("GET operations", () => client.api(`${conn}/operations`).get());
  assert.ok(ops.value.some((o) => o.id === opId), `GET operations does not list ${opId}`);

  // PATCH the operation with a publicError: 200 with the operation.
  const patched = await ok("PATCH operation", () => client.api(location).patch({ status: "failed", error: publicError }));
  assert.equal(patched?.status, "failed");
  assert.deepEqual(withoutODataType(patched.error), publicError);
  const reread = await ok("GET operation", () => client.api(`${conn}/operations/${opId}`).get());
  assert.equal(reread.status, "failed");
  assert.deepEqual(withoutODataType(reread.error), publicError);

  // Delete the connection: it is gone.
  const del = await client.api(conn).responseType(ResponseType.RAW).delete();
  assert.equal(del.status, 202, `DELETE connection = ${del.status} ${await del.text()}`);
  await assert.rejects(client.api(conn).get(), (err) => err instanceof GraphError && err.statusCode === 404, "GET connection after DELETE, want 404");
});
