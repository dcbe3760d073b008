// Allure 3 configuration of `make report` and `make report-single` (the Makefile pins the
// version). Node.js is all it needs: no Java.
//
// The run's Allure results directory is HANOTA_ALLURE_RESULTS (default out/allure-results).
// Everything else goes next to it, in the same out/ (the Makefile follows the same rule):
//   out/allure-report/index.html         the report, served over HTTP      (make report)
//   out/allure-report-single/index.html  one self-contained file that opens from disk
//                                        (HANOTA_ALLURE_SINGLE_FILE=1,     make report-single)
//   out/allure-history.jsonl             one line per reported run: trends, per-scenario history
//
// The report's name and its categories come from the results (steps/allure_meta.py writes
// them at the end of the run): executor.json's reportName says SECMP0007, the DUT and the
// target; categories.json holds the verdict-reason rules, in Allure 2's form.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const results = process.env.HANOTA_ALLURE_RESULTS || "out/allure-results";
const out = dirname(results);
const singleFile = process.env.HANOTA_ALLURE_SINGLE_FILE === "1";
const historyFile = join(out, "allure-history.jsonl");

function fromResults(name, fallback) {
  const path = join(results, name);
  return existsSync(path) ? JSON.parse(readFileSync(path, "utf-8")) : fallback;
}

// One history point per run, however many reports are made of it. Allure appends a point
// per generation; a point made at or after this run's end (executor.json's buildOrder, ms)
// was made from these same results. Such a run is shown against the earlier points only
// (a copy without its own, removed on exit) and adds no second point; the single file
// never adds one.
function history(runEnded) {
  const lines = existsSync(historyFile)
    ? readFileSync(historyFile, "utf-8").split("\n").filter((line) => line.trim())
    : [];
  const earlier = lines.filter((line) => !runEnded || JSON.parse(line).timestamp < runEnded);
  if (earlier.length === lines.length) {
    return { historyPath: historyFile, appendHistory: !singleFile };
  }
  const copy = mkdtempSync(join(tmpdir(), "hanota-allure-history-"));
  process.on("exit", () => rmSync(copy, { recursive: true, force: true }));
  writeFileSync(join(copy, "history.jsonl"), earlier.map((line) => `${line}\n`).join(""));
  return { historyPath: join(copy, "history.jsonl"), appendHistory: false };
}

const executor = fromResults("executor.json", {});
// Allure 3 accepts Allure 2's rule keys (matchedStatuses, messageRegex) and adds grouping
// inside a category: by requirement id, then by the reason's text.
const categories = fromResults("categories.json", []).map((rule) => ({
  name: rule.name,
  matchedStatuses: rule.matchedStatuses,
  messageRegex: rule.messageRegex,
  groupBy: [{ label: "requirement" }],
  groupByMessage: true,
}));

export default {
  name: executor.reportName || "SECMP0007 OTA conformance",
  resultsDir: results,
  output: join(out, singleFile ? "allure-report-single" : "allure-report"),
  ...history(Number(executor.buildOrder) || 0),
  historyLimit: 100,
  categories,
  plugins: {
    awesome: {
      options: {
        singleFile,
        reportLanguage: "en",
        // area (feature label), then requirement id and title (story label), then scenario
        groupBy: ["feature", "story"],
        // Graphs; Metrics (steps/allure_meta.py's performance.json) shows up by itself
        sections: ["charts"],
        charts: [
          { type: "currentStatus", title: "Current status (skipped: INCONCLUSIVE or NOT APPLICABLE)" },
          { type: "statusDynamics", title: "Status trend across runs", limit: 20 },
          { type: "statusTransitions", title: "Scenarios fixed or regressed since earlier runs", limit: 20 },
          { type: "coverageDiff", title: "Scenarios added or removed since the last run" },
        ],
      },
    },
    // Allure adds its "agent" plugin (output for AI agents) unless it is configured
    agent: { enabled: false },
  },
};
