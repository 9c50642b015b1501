// Evaluates each calculated score item of a Questionnaire over a QuestionnaireResponse with HL7's FHIRPath
// engine (fhirpath.js, R4 model), as a form filler would: reads [{q, qr}] on stdin, writes
// [{questionnaire, score, value}] (value null when the expression yields nothing).
const fhirpath = require("fhirpath");
const r4 = require("fhirpath/fhir-context/r4");

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const results = [];
  for (const { q, qr } of JSON.parse(input)) {
    for (const item of q.item.filter((i) => i.linkId.startsWith("score."))) {
      const find = (suffix) => (item.extension || []).find((e) => e.url.endsWith(suffix));
      const variable = find("/variable");
      const calculated = find("calculatedExpression");
      if (!calculated) continue;
      const env = { resource: qr, questionnaire: q };
      const values = fhirpath.evaluate(qr, variable.valueExpression.expression, env, r4);
      const value = fhirpath.evaluate(qr, calculated.valueExpression.expression, { ...env, values }, r4);
      results.push({ questionnaire: q.id, score: item.linkId.slice(6), value: value.length ? value[0] : null });
    }
  }
  process.stdout.write(JSON.stringify(results));
});
