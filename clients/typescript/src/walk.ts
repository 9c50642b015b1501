// One review from request to acknowledgement, then the therapist's series, through the typed client.
//
// The admin adds a supervisor and a therapist with keys of their own and links them; the clinic's session is
// recorded; the supervisor asks for a review (and asks again with the same Idempotency-Key, which replays the
// first answer), starts it (following its Location), saves it with If-Match, pins a comment to a moment, submits
// it; the therapist acknowledges it; the supervisor reads the series.
//
// The same module runs in Node (src/walk-node.ts: `npm run walk`) and in a browser page on another origin
// (browser/walk.html, after `npm run build`), so it uses only what both offer: fetch and Web Crypto. In a browser
// every header it reads (ETag, Location, Idempotent-Replayed) must be exposed by CORS, or the walk stops there.
import { must, supervise, type Call, type Schemas } from "./client.ts";

export type { Call } from "./client.ts";

/** What the walk made, for its caller to check against the API. */
export type Walked = Awaited<ReturnType<typeof walk>>;

const rubric = "alliance";

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
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

/** Walk one review through its life on the API at `baseUrl`, as the organisation's admin (`adminKey`) and the
 * members it adds; `observe` hears of every answer, in order. Throws at the first call that fails. */
export async function walk(baseUrl: string, adminKey: string, observe?: (call: Call) => void) {
  const admin = supervise(baseUrl, adminKey, observe);
  const run = crypto.randomUUID().slice(0, 8);

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
    return { member, api: supervise(baseUrl, key.secret, observe) };
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
        media: { uri: `s3://riverside/${run}/1.mp4`, sha256: await sha256(run) },
        consent: { scope: "supervision", expires_at: null },
      },
    }),
  ).data;

  const ask = async () =>
    await supervisor.api.POST("/v1/review-requests", {
      params: { header: { "Idempotency-Key": `walk-${run}` } },
      body: {
        recording_id: recording.id,
        reviewer_id: supervisor.member.id,
        role: "supervisor",
        rubric_key: rubric,
        note: "Watch minutes 30 to 35.",
      },
    });
  const request = must("createReviewRequest", await ask()).data;
  // a retry after a lost answer (same key, same body) replays the first answer and makes nothing new
  const retried = must("createReviewRequest (retried)", await ask());
  if (retried.response.headers.get("Idempotent-Replayed") !== "true" || retried.data.id !== request.id) {
    throw new Error("createReviewRequest: the retry was not a replay of the first answer");
  }

  const started = must("createReview", await supervisor.api.POST("/v1/reviews", { body: { request_id: request.id } }));
  const location = started.response.headers.get("Location");
  if (!location || !new URL(location, baseUrl).pathname.endsWith(`/v1/reviews/${started.data.id}`)) {
    throw new Error(`createReview: Location ${location} does not name the review`);
  }
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
  if (!saved.etag) throw new Error("updateReview: no ETag");
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
      params: { ...review, header: { "If-Match": saved.etag } },
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
  return {
    therapist_id: therapist.member.id,
    supervisor_id: supervisor.member.id,
    review_id: submitted.id,
    states: [started.data.state, submitted.state, acknowledged.state],
    submitted_total: submitted.result?.scores["total"] ?? null,
    series_total: total?.buckets ?? [],
  };
}
