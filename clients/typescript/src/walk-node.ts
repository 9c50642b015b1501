// The walk (src/walk.ts) from the command line, against a running server:
//
//   SUPERVISE_URL=http://127.0.0.1:8000 SUPERVISE_ADMIN_KEY=svk_... npm run walk
//
// Prints what it made, as JSON, with every call it made and the answer's status.
import { walk, type Call } from "./walk.ts";

const baseUrl = process.env.SUPERVISE_URL ?? "http://127.0.0.1:8000";
const adminKey = process.env.SUPERVISE_ADMIN_KEY;
if (!adminKey) throw new Error("SUPERVISE_ADMIN_KEY: the key printed by `supervise orgs create`");
const calls: Call[] = [];
const walked = await walk(baseUrl, adminKey, (call) => calls.push(call));
console.log(JSON.stringify({ ...walked, calls }));
