// Copies the pinned swagger-ui-dist files the docs page needs into the directory given, with their licence and
// a manifest of their version and Subresource Integrity digests (read by src/supervise/docs_ui.py).
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const source = "node_modules/swagger-ui-dist";
const target = process.argv[2];
const assets = ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"];
const notices = ["LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt"];
const { version } = JSON.parse(readFileSync(join(source, "package.json"), "utf8"));

mkdirSync(target, { recursive: true });
const integrity = {};
for (const name of [...assets, ...notices]) copyFileSync(join(source, name), join(target, name));
for (const name of assets) {
  integrity[name] = "sha384-" + createHash("sha384").update(readFileSync(join(source, name))).digest("base64");
}
const manifest = { package: "swagger-ui-dist", version, integrity };
writeFileSync(join(target, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`swagger-ui-dist ${version} -> ${target}`);
