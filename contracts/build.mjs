// Compiles every src/*.sol with the pinned solc (standard-JSON API) and writes one artifact per
// contract: { abi, bytecode, deployedBytecode }. Output is byte-for-byte reproducible (sorted
// keys, no metadata hash in the bytecode) so CI can rebuild and diff against the committed copy.
//
// usage: node build.mjs [outDir]   (default: artifacts)
import { readdirSync, readFileSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");

const EXPECTED_SOLC = "0.8.37";
const here = dirname(fileURLToPath(import.meta.url));
const srcDir = join(here, "src");
const outDir = process.argv[2] ?? join(here, "artifacts");

function fail(message) {
  console.error(`build.mjs: ${message}`);
  process.exit(1);
}

// The lockfile pins solc, but a stray global or hoisted copy would silently change bytecode.
const version = solc.version();
if (!version.startsWith(`${EXPECTED_SOLC}+`)) {
  fail(`expected solc ${EXPECTED_SOLC}, got ${version}; run npm ci in contracts/`);
}

const files = readdirSync(srcDir).filter((f) => f.endsWith(".sol")).sort();
if (files.length === 0) fail(`no .sol files in ${srcDir}`);

const sources = {};
for (const f of files) sources[f] = { content: readFileSync(join(srcDir, f), "utf8") };

const input = {
  language: "Solidity",
  sources,
  settings: {
    // Tuned for execution, not size: at low `runs` the optimizer rebuilds 256-bit constants
    // such as the P-256 prime from shifts (about 24 gas each use) instead of one PUSH32, which
    // tripled the cost of the verifier's field arithmetic.
    optimizer: { enabled: true, runs: 1000000 },
    evmVersion: "cancun",
    viaIR: false,
    // No metadata hash: the CBOR tail would otherwise change with comments and paths.
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: {
      "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] },
    },
  },
};

// No import callback: sources are self-contained, and an import must not reach outside src/.
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const diagnostics = output.errors ?? [];
for (const d of diagnostics) console.error(d.formattedMessage ?? d.message);
if (diagnostics.some((d) => d.severity === "error")) fail("compilation failed");

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]),
    );
  }
  return value;
}

// Start from an empty folder so a deleted contract also deletes its artifact.
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

const written = new Set();
for (const file of files) {
  for (const [name, contract] of Object.entries(output.contracts?.[file] ?? {})) {
    if (written.has(name)) fail(`contract name ${name} is defined twice`);
    written.add(name);
    const artifact = sortKeys({
      abi: contract.abi,
      bytecode: `0x${contract.evm.bytecode.object}`,
      deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
    });
    writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(artifact, null, 2)}\n`);
  }
}
console.log(`build.mjs: solc ${version}: wrote ${[...written].sort().join(", ")} to ${outDir}`);
