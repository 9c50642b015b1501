// One review from request to acknowledgement, then the therapist's series, through the typed client:
//
//   SUPERVISE_URL=http://127.0.0.1:8000 SUPERVISE_ADMIN_KEY=svk_... npm run walk
//
// The admin adds a supervisor and a therapist with keys of their own and links them; the clinic's session is
// recorded; the supervisor asks for (and writes) a review, saves it with If-Match, pins a comment to a moment,
// submits it; the therapist acknowledges it; the supervisor reads the series. Prints what it made, as JSON.
import { createHash, randomUUID } from "node:crypto";
import { must, supervise, type Schemas } from "./client.ts";

const baseUrl = process.env.SUPERVISE_URL ?? "http://127.0.0.1:8000";
const adminKey = process.env.SUPERVISE_ADMIN_KEY;
if (!adminKey) throw new Error("SUPERVISE_ADMIN_KEY: the key printed by `supervise orgs create`");
const rubric = "alliance";
const admin = supervise(baseUrl, adminKey);
const run = randomUUID().slice(0, 8);

async function person(name: string, roles: Schemas["MemberCreate"]["roles"]) {
  const email = `${name.toLowerCase().replace(/\W+/g, ".")}.${run}@riverside.example`;
  const member = must("createMember", await admin.POST("/v1/members", { body: { name, email, roles } })).data;
  const key = must(
    "createApiKey",
    await admin.POST("/v1/members/{member_id}/api-keys", {
      params: { path: { member_id: member.id } },
      body: { name: "walk" },
    }),
  ).data;
  if (!key.secret) throw new Error("createApiKey: no secret"); // null only on an idempotent replay
  return { member, api: supervise(baseUrl, key.secret) };
}

/** Every item of the rubric, answered one step below the top of its scale. */
function responses(definition: Schemas["RubricOut"]): Schemas["ReviewUpdate"]["responses"] {
  const items: Record<string, number | boolean> = {};
  for (const item of definition.items) {
    const scale = item.scale;
    items[item.key] = scale.kind === "ordinal" ? scale.max - 1 : scale.kind === "count" ? 1 : true;
  }
  return { items };
}

const supervisor = await person("Dr Sam Reyes", ["supervisor", "clinician"]);
const therapist = await person("Jo Park", ["clinician"]);
must(
  "createSupervisionLink",
  await admin.POST("/v1/supervision-links", {
    body: { supervisor_id: supervisor.member.id, supervisee_id: therapist.member.id },
  }),
);

const definition = must(
  "getRubric",
  await supervisor.api.GET("/v1/rubrics/{key}", { params: { path: { key: rubric } } }),
).data;
const made = must(
  "createCase",
  await admin.POST("/v1/cases", { body: { therapist_id: therapist.member.id, external_ref: `C-${run}` } }),
).data;
const recording = must(
  "createRecording",
  await admin.POST("/v1/recordings", {
    body: {
      case_id: made.id,
      occurred_at: "2026-11-20T14:00:00Z",
      session_number: 1,
      duration_ms: 50 * 60_000,
      medium: "video",
      media: { uri: `s3://riverside/${run}/1.mp4`, sha256: createHash("sha256").update(run).digest("hex") },
      consent: { scope: "supervision", expires_at: null },
    },
  }),
).data;

const request = must(
  "createReviewRequest",
  await supervisor.api.POST("/v1/review-requests", {
    params: { header: { "Idempotency-Key": `walk-${run}` } },
    body: {
      recording_id: recording.id,
      reviewer_id: supervisor.member.id,
      role: "supervisor",
      rubric_key: rubric,
      note: "Watch minutes 30 to 35.",
    },
  }),
).data;
const started = must("createReview", await supervisor.api.POST("/v1/reviews", { body: { request_id: request.id } }));
const review = { path: { review_id: started.data.id } };
const current = must("getReview", await supervisor.api.GET("/v1/reviews/{review_id}", { params: review }));
if (!current.etag) throw new Error("getReview: no ETag");
const saved = must(
  "updateReview",
  await supervisor.api.PATCH("/v1/reviews/{review_id}", {
    params: { ...review, header: { "If-Match": current.etag } },
    body: { responses: responses(definition), comment: "Warm, steady work through a hard silence." },
  }),
);
must(
  "createAnnotation",
  await supervisor.api.POST("/v1/reviews/{review_id}/annotations", {
    params: review,
    body: { start_ms: 31 * 60_000, end_ms: 32 * 60_000, kind: "rupture", text: "Client goes quiet." },
  }),
);
const submitted = must(
  "submitReview",
  await supervisor.api.POST("/v1/reviews/{review_id}/submit", {
    params: { ...review, header: { "If-Match": saved.etag ?? current.etag } },
  }),
).data;
const acknowledged = must(
  "acknowledgeReview",
  await therapist.api.POST("/v1/reviews/{review_id}/acknowledge", {
    params: review,
    body: { usefulness: 4, response: "Thank you: I felt that silence too." },
  }),
).data;
const series = must(
  "getTherapistSeries",
  await supervisor.api.GET("/v1/aggregates/therapists/{therapist_id}/series", {
    params: { path: { therapist_id: therapist.member.id }, query: { rubric, role: "supervisor", bucket: "month" } },
  }),
).data;

const total = series.measures.find((measure) => measure.kind === "score" && measure.key === "total");
console.log(
  JSON.stringify({
    therapist_id: therapist.member.id,
    supervisor_id: supervisor.member.id,
    review_id: submitted.id,
    states: [started.data.state, submitted.state, acknowledged.state],
    submitted_total: submitted.result?.scores["total"] ?? null,
    series_total: total?.buckets ?? [],
  }),
);
