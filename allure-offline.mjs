// Removes Google Analytics from an Allure 3 report's index.html: `node allure-offline.mjs FILE`.
//
// Why: Allure 3's Awesome report (3.18.0) always embeds a gtag.js <script> from
// www.googletagmanager.com plus an inline gtag('config', ...) block, with no option to turn
// them off (allure3 issue #476; Allure 2 had ALLURE_NO_ANALYTICS). A conformance report
// handed to a client must open offline and must not report its opening to a third party.
// The two blocks are removed whole; the script fails if any trace of them is left, so a
// change of Allure's template is noticed instead of shipped.
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2];
if (!file) {
  console.error("usage: node allure-offline.mjs REPORT/index.html");
  process.exit(2);
}
const html = readFileSync(file, "utf-8");
const analytics =
  /\s*<script async src="https:\/\/www\.googletagmanager\.com\/gtag\/js\?id=[^"]*"><\/script>\s*<script>\s*window\.dataLayer[\s\S]*?<\/script>/g;
const offline = html.replace(analytics, "");
if (/googletagmanager|gtag\(|dataLayer/.test(offline)) {
  console.error(`${file}: analytics left after removal; Allure's template changed, update ${process.argv[1]}`);
  process.exit(1);
}
writeFileSync(file, offline);
console.log(`${file}: ${html === offline ? "no analytics found" : "analytics removed"}`);
