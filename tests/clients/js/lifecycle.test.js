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
    { name: "tags", type: "StringCollection", isQueryable: true, isRetrievable: true },
  ],
};

const userId = "e811976d-83df-4cbd-8b9b-5215b18aa874"; // an Entra user's object id
const groupId = "helpdesk";

// A ticket as an item: a string, an int64 and a string collection
// (annotated, as Graph's guide asks), an ACL that grants a user and the
// help desk's external group, and the ticket's text as content.
const ticket = {
  acl: [
    { type: "user", value: userId, accessType: "grant" },
    { type: "externalGroup", value: groupId, accessType: "grant" },
  ],
  properties: {
    ticketTitle: "Printer on floor 3 is jammed",
    priority: 2,
    tags: ["printer", "floor3"],
    "tags@odata.type": "Collection(String)",
  },
  content: { type: "text", value: "The printer by the lifts jams on every second page." },
};

// checkTicket checks that item is the ticket pushed as itemId.
function checkTicket(what, item, itemId) {
  assert.equal(item?.id, itemId, `${what}: id`);
  for (const name of ["ticketTitle", "priority", "tags"]) {
    assert.deepEqual(item.properties?.[name], ticket.properties[name], `${what}: properties.${name}`);
  }
  assert.deepEqual(withoutODataType(item.acl), ticket.acl, `${what}: acl`);
  assert.deepEqual(withoutODataType(item.content), ticket.content, `${what}: content`);
}

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
    ["ticketTitle", "opened", "priority", "tags"],
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

  // With the schema registered, push the ticket as an item.
  const itemId = "ticket42";
  const item = `${conn}/items/${itemId}`;
  const put = await client.api(item).responseType(ResponseType.RAW).put(ticket);
  const putText = await put.text();
  assert.equal(put.status, 200, `PUT item = ${put.status} ${putText}`);
  checkTicket("PUT item's answer", JSON.parse(putText), itemId);

  // Read it back.
  checkTicket("GET item", await ok("GET item", () => client.api(item).get()), itemId);

  // The external group that the ACL names, and its first member.
  const group = await ok("POST groups", () =>
    client.api(`${conn}/groups`).post({ id: groupId, displayName: "Help desk", description: "Contoso's help desk agents" }),
  );
  assert.equal(group.id, groupId);
  assert.equal(group.displayName, "Help desk");
  const member = await ok("POST members", () => client.api(`${conn}/groups/${groupId}/members`).post({ id: userId, type: "user" }));
  assert.equal(member.id, userId);
  assert.equal(member.type, "user");
  const members = await ok("GET members", () => client.api(`${conn}/groups/${groupId}/members`).get());
  assert.deepEqual(
    members.value.map((m) => m.id),
    [userId],
  );

  // The member opened the ticket an hour ago and viewed it since:
  // addActivities records both, 200 with a result without error for each.
  const opened = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
  const viewed = new Date(opened.getTime() + 1_800_000);
  const activities = [
    { type: "created", startDateTime: opened.toISOString(), performedBy: { id: userId, type: "user" } },
    { type: "viewed", startDateTime: viewed.toISOString(), performedBy: { id: userId, type: "user" } },
  ];
  const added = await client.api(`${item}/microsoft.graph.externalConnectors.addActivities`).responseType(ResponseType.RAW).post({ activities });
  const addedText = await added.text();
  assert.equal(added.status, 200, `POST addActivities = ${added.status} ${addedText}`);
  const results = JSON.parse(addedText).value;
  assert.equal(results?.length, activities.length, "addActivities: one result per activity");
  results.forEach((r, i) => {
    assert.equal(r.error ?? null, null, `addActivities: result ${i} has an error`);
    assert.equal(r.type, activities[i].type, `addActivities: result ${i}'s type`);
    assert.equal(new Date(r.startDateTime).getTime(), new Date(activities[i].startDateTime).getTime(), `addActivities: result ${i}'s startDateTime`);
    assert.equal(r.performedBy?.id, userId, `addActivities: result ${i}'s performedBy`);
  });

  // The ticket is closed: delete the item; reading it is a 404 that the
  // client raises as a GraphError with Graph's code.
  const gone = await client.api(item).responseType(ResponseType.RAW).delete();
  assert.equal(gone.status, 204, `DELETE item = ${gone.status} ${await gone.text()}`);
  await assert.rejects(
    client.api(item).get(),
    (err) => err instanceof GraphError && err.statusCode === 404 && err.code === "itemNotFound" && err.message !== "",
    "GET item after DELETE, want a GraphError 404 itemNotFound",
  );

  // Delete the connection: it is gone.
  const del = await client.api(conn).responseType(ResponseType.RAW).delete();
  assert.equal(del.status, 202, `DELETE connection = ${del.status} ${await del.text()}`);
  await assert.rejects(client.api(conn).get(), (err) => err instanceof GraphError && err.statusCode === 404, "GET connection after DELETE, want 404");
});
