// The supervision dashboard: one page and this module, no build step. It calls the API with fetch; the types
// come from the generated client (clients/typescript/src/schema.d.ts), checked by `npm run typecheck` there.
//
// Open it as index.html?api=http://127.0.0.1:8000 (the API must list this page's origin in
// SUPERVISE_CORS_ORIGINS), paste an API key or an OIDC access token, and pick a supervisee.

/** @typedef {import("../../clients/typescript/src/schema.d.ts").operations} Operations */
/** @typedef {import("../../clients/typescript/src/schema.d.ts").components["schemas"]} Schemas */
/**
 * What an operation answers with 200.
 * @template {keyof Operations} O
 * @typedef {Operations[O]["responses"] extends { 200: { content: { "application/json": infer T } } } ? T : never} Answer
 */

const ROLES = /** @type {const} */ (["supervisor", "peer", "self", "client"]);
/** @type {Record<string, string>} */
const COLOURS = { supervisor: "#2e5aac", peer: "#c4320a", self: "#027a48", client: "#7a5af8" };
const SVG = "http://www.w3.org/2000/svg";

/** @type {{ api: string, token: string }} */
const session = { api: "", token: "" };

/** @param {string} id */
function $(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing`);
  return element;
}

/**
 * @template {keyof Operations} O
 * @param {O} _operation the operation called: it types the answer
 * @param {string} path
 * @param {Record<string, string | number | undefined>} [query]
 * @returns {Promise<Answer<O>>}
 */
async function get(_operation, path, query = {}) {
  const url = new URL(path, session.api);
  for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, `${value}`);
  const response = await fetch(url, { headers: { Authorization: `Bearer ${session.token}` } });
  if (!response.ok) {
    /** @type {Partial<Schemas["Problem"]>} */
    const problem = await response.json().catch(() => ({}));
    throw new Error(`${response.status} ${problem.title ?? response.statusText}${problem.detail ? `: ${problem.detail}` : ""}`);
  }
  return response.json();
}

/**
 * @param {string} tag
 * @param {Record<string, string | number>} [attributes]
 * @param {(Node | string)[]} [children]
 */
function h(tag, attributes = {}, children = []) {
  const element = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, `${value}`);
  element.append(...children);
  return element;
}

/** @param {unknown} error */
function report(error) {
  $("status").textContent = error instanceof Error ? error.message : `${error}`;
}

/** @param {number} ms */
function timecode(ms) {
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)}:${`${seconds % 60}`.padStart(2, "0")}`;
}

/** @type {Map<string, string>} */
const names = new Map();

/** @param {string} memberId */
async function nameOf(memberId) {
  if (!names.has(memberId)) {
    try {
      names.set(memberId, (await get("getMember", `/v1/members/${memberId}`)).name);
    } catch {
      names.set(memberId, memberId.slice(0, 8));
    }
  }
  return names.get(memberId) ?? memberId;
}

async function signIn() {
  const me = await get("getMe", "/v1/me");
  names.set(me.member.id, me.member.name);
  $("who").textContent = `${me.member.name} · ${me.organisation.name}`;
  $("sign-out").hidden = false;
  sessionStorage.setItem("supervise", JSON.stringify(session));

  const links = await get("listSupervisionLinks", "/v1/supervision-links", { supervisor_id: me.member.id, limit: 200 });
  const supervisees = /** @type {HTMLSelectElement} */ ($("supervisee"));
  supervisees.replaceChildren();
  for (const link of links.items) {
    supervisees.append(h("option", { value: link.supervisee_id }, [await nameOf(link.supervisee_id)]));
  }
  const rubrics = /** @type {HTMLSelectElement} */ ($("rubric"));
  rubrics.replaceChildren(
    ...(await get("listRubrics", "/v1/rubrics")).map((r) => h("option", { value: r.key }, [r.title])),
  );
  rubrics.value = rubrics.querySelector('option[value="alliance"]') ? "alliance" : rubrics.value;
  $("board").hidden = false;
  await Promise.all([showSupervisee(), showTeam()]);
}

async function showSupervisee() {
  const therapist = /** @type {HTMLSelectElement} */ ($("supervisee")).value;
  if (!therapist) return;
  await Promise.all([showSeries(therapist), showFlags(therapist), showReviews(therapist)]);
}

/** @param {string} therapist */
async function showSeries(therapist) {
  const rubric = /** @type {HTMLSelectElement} */ ($("rubric")).value;
  const series = await Promise.all(
    ROLES.map((role) =>
      get("getTherapistSeries", `/v1/aggregates/therapists/${therapist}/series`, { rubric, role, bucket: "month" }),
    ),
  );
  /** @type {{ role: string, label: string, buckets: Schemas["Bucket"][] }[]} */
  const lines = [];
  for (const [index, answer] of series.entries()) {
    const total = answer.measures.find((m) => m.kind === "score" && m.key === "total") ?? answer.measures[0];
    const buckets = (total?.buckets ?? []).filter((b) => b.mean !== null && b.start !== null);
    if (buckets.length) lines.push({ role: ROLES[index] ?? "", label: total?.label ?? "", buckets });
  }
  $("series-caption").textContent = lines[0] ? `${lines[0].label} per month, mean and 95% CI` : "no reviews yet";
  drawSeries(lines);
}

/** @param {{ role: string, buckets: Schemas["Bucket"][] }[]} lines */
function drawSeries(lines) {
  const svg = $("series");
  svg.replaceChildren();
  const [width, height, left, right, top, bottom] = [1040, 300, 44, 40, 12, 28];
  const days = lines.flatMap((l) => l.buckets.map((b) => Date.parse(`${b.start}T00:00:00Z`)));
  const values = lines.flatMap((l) => l.buckets.flatMap((b) => [b.mean ?? 0, ...(b.ci95 ?? [])]));
  if (!days.length) return;
  const [x0, x1] = [Math.min(...days), Math.max(...days)];
  const [low, high] = [Math.floor(Math.min(...values)), Math.ceil(Math.max(...values))];
  const y0 = low === high ? low - 1 : low;
  const y1 = low === high ? high + 1 : high;
  /** @param {string | null} start */
  const x = (start) =>
    x1 === x0 ? (left + width - right) / 2 : left + ((Date.parse(`${start}T00:00:00Z`) - x0) / (x1 - x0)) * (width - left - right);
  /** @param {number} value */
  const y = (value) => top + (1 - (value - y0) / (y1 - y0)) * (height - top - bottom);

  for (let tick = y0; tick <= y1; tick += Math.max(1, Math.round((y1 - y0) / 5))) {
    svg.append(h("svg:line", { x1: left, x2: width - right, y1: y(tick), y2: y(tick), stroke: "#eef0f3" }));
    svg.append(h("svg:text", { x: left - 8, y: y(tick) + 4, "text-anchor": "end" }, [`${tick}`]));
  }
  for (const start of [...new Set(lines.flatMap((l) => l.buckets.map((b) => b.start)))]) {
    svg.append(h("svg:text", { x: x(start), y: height - 8, "text-anchor": "middle" }, [`${start}`.slice(0, 7)]));
  }
  const legend = $("legend");
  legend.replaceChildren();
  for (const { role, buckets } of lines) {
    const colour = COLOURS[role] ?? "#444";
    const banded = buckets.filter((b) => b.ci95);
    if (banded.length) {
      const upper = banded.map((b) => `${x(b.start)},${y(b.ci95?.[1] ?? 0)}`);
      const lower = banded.map((b) => `${x(b.start)},${y(b.ci95?.[0] ?? 0)}`).reverse();
      svg.append(h("svg:polygon", { points: [...upper, ...lower].join(" "), fill: colour, "fill-opacity": 0.14, "data-band": role }));
    }
    const path = buckets.map((b, i) => `${i ? "L" : "M"}${x(b.start)},${y(b.mean ?? 0)}`).join(" ");
    svg.append(h("svg:path", { d: path, fill: "none", stroke: colour, "stroke-width": 2 }));
    for (const b of buckets) {
      const ci = b.ci95 ? `, 95% CI ${b.ci95[0].toFixed(2)}–${b.ci95[1].toFixed(2)}` : "";
      const title = h("svg:title", {}, [`${role} ${b.start}: mean ${b.mean?.toFixed(2)} (n=${b.n}${ci})`]);
      const point = h("svg:circle", {
        cx: x(b.start), cy: y(b.mean ?? 0), r: 4, fill: colour, class: "point",
        "data-role": role, "data-start": `${b.start}`, "data-mean": `${b.mean}`, "data-n": b.n,
      }, [title]);
      svg.append(point);
    }
    legend.append(h("span", {}, [h("i", { style: `background:${colour}` }), role]));
  }
}

/** @param {string} therapist */
async function showFlags(therapist) {
  const flags = await get("listFlags", "/v1/aggregates/flags", { therapist_id: therapist, limit: 20 });
  $("flags").replaceChildren(
    ...(flags.items.length
      ? flags.items.map((f) =>
          h("li", { "data-flag": f.code }, [
            h("span", { class: `severity ${f.severity}` }, [f.severity]),
            `${f.message} `,
            h("span", { class: "muted" }, [new Date(f.at).toLocaleDateString()]),
          ]),
        )
      : [h("li", { class: "muted" }, ["No flags."])]),
  );
}

/** @param {string} therapist */
async function showReviews(therapist) {
  const listed = await get("listReviews", "/v1/reviews", { therapist, limit: 200 });
  const latest = listed.items.filter((r) => r.state !== "draft").slice(-5).reverse();
  const shown = await Promise.all(
    latest.map(async (review) => {
      const notes = await get("listAnnotations", `/v1/reviews/${review.id}/annotations`);
      const total = review.result?.scores["total"];
      return h("div", { class: "review", "data-review": review.id }, [
        h("strong", {}, [`${review.role} review by ${review.reviewer_id ? await nameOf(review.reviewer_id) : "the client"}`]),
        h("span", { class: "muted" }, [
          ` · ${review.state}${total === undefined || total === null ? "" : ` · total ${total.toFixed(2)}`}`,
        ]),
        h(
          "ol",
          {},
          notes.items.map((a) =>
            h("li", { "data-start-ms": a.start_ms }, [
              h("span", { class: "time" }, [timecode(a.start_ms) + (a.end_ms === null ? "" : `–${timecode(a.end_ms)}`)]),
              h("span", { class: "kind" }, [a.kind]),
              a.text,
            ]),
          ),
        ),
      ]);
    }),
  );
  $("reviews").replaceChildren(...(shown.length ? shown : [h("p", { class: "muted" }, ["No reviews yet."])]));
}

async function showTeam() {
  const rubric = /** @type {HTMLSelectElement} */ ($("rubric")).value;
  const team = await get("getTeamView", "/v1/aggregates/team", { rubric });
  $("team-caption").textContent = `${team.role}; cells from fewer than ${team.min_cell_sessions} sessions are suppressed`;
  const keys = [...new Set(team.therapists.flatMap((row) => row.cells.map((c) => c.key)))];
  const head = h("tr", {}, [h("th", {}, ["Therapist"]), ...keys.map((k) => h("th", {}, [team.labels[k] ?? k]))]);
  const rows = await Promise.all(
    team.therapists.map(async (row) =>
      h("tr", { "data-therapist": row.therapist_id }, [
        h("td", {}, [await nameOf(row.therapist_id)]),
        ...keys.map((key) => {
          const cell = row.cells.find((c) => c.key === key);
          if (!cell || cell.suppressed || cell.mean === null) {
            return h("td", { class: "suppressed", title: `fewer than ${team.min_cell_sessions} sessions` }, ["suppressed"]);
          }
          return h("td", { "data-mean": cell.mean }, [cell.mean.toFixed(2), h("small", {}, [`n=${cell.n}`])]);
        }),
      ]),
    ),
  );
  $("team").replaceChildren(h("thead", {}, [head]), h("tbody", {}, rows));
}

function start() {
  const stored = sessionStorage.getItem("supervise");
  const api = /** @type {HTMLInputElement} */ ($("api"));
  const token = /** @type {HTMLInputElement} */ ($("token"));
  api.value = new URLSearchParams(location.search).get("api") ?? "http://127.0.0.1:8000";
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    $("status").textContent = "";
    Object.assign(session, { api: api.value, token: token.value.trim() });
    signIn().catch(report);
  });
  $("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem("supervise");
    location.reload();
  });
  $("supervisee").addEventListener("change", () => showSupervisee().catch(report));
  $("rubric").addEventListener("change", () => Promise.all([showSupervisee(), showTeam()]).catch(report));
  if (stored) {
    Object.assign(session, JSON.parse(stored));
    api.value = session.api;
    signIn().catch(report);
  }
}

start();
