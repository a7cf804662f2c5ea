/**
 * The durable vote store of a rating study: one SQLite file (better-sqlite3) in the study
 * directory, `study.db`, beside the pair images `images/<sha256>.png`. It holds the study's
 * configuration, the methods compared (with the SHA-256 of their weight files), the pair list
 * (prompt, noise index, which method is shown left, both image hashes) and every vote (rater,
 * pair, answer, time stamp, time to answer). Votes are committed one by one (WAL journal,
 * synchronous=FULL), so a closed browser, a killed server or a power cut loses at most the
 * vote being sent; one rater's second vote on a pair is refused by a UNIQUE constraint.
 */
import { existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { UserError } from "../engine/errors.js";
import { HostRng, mixSeed } from "../engine/prng.js";

export const STUDY_DB = "study.db";
export const IMAGES_DIR = "images";
const SCHEMA_VERSION = 1;

export const QUESTIONS = ["likeness", "alignment"] as const;
export type Question = (typeof QUESTIONS)[number];
export const ANSWERS = ["left", "right", "tie"] as const;
export type Answer = (typeof ANSWERS)[number];

export interface StudyConfig {
  name: string;
  question: Question;
  prompts: string[];
  pairs: number;
  seed: number;
  steps: number;
  shift: number;
  guidance: number;
  sampleShape: number[];
  /** The secret part of the study's URL. */
  token: string;
  /** Votes come from a script (tests, demos), not from people: every report says so. */
  simulated: boolean;
  createdAt: string;
}

export interface Method {
  id: number;
  /** Shown once a rater has finished: the run directory's name or the weight file's. */
  label: string;
  /** What produced the weights, e.g. "grpo-guard on flow-sde", "pretrained base". */
  method: string;
  /** The weight file the images were sampled from. */
  source: string;
  sha256: string;
}

export interface Pair {
  /** 1..N (the plan's shuffled order; each rater sees the pairs in an order of their own). */
  id: number;
  prompt: string;
  /** Row of the study's noise tensor both images start from. */
  noiseIndex: number;
  methodA: number;
  methodB: number;
  imageA: string;
  imageB: string;
  /** Method A's image is the left one (drawn per pair from the study's seeded generator). */
  leftIsA: boolean;
}

export interface Vote {
  id: number;
  rater: string;
  pairId: number;
  answer: Answer;
  createdAt: string;
  timeMs: number;
}

export type VoteResult = { status: "recorded"; vote: Vote } | { status: "duplicate" } | { status: "unknown-pair" };

/** Which method a vote prefers: "a", "b" or "tie". */
export function winnerOf(pair: Pair, answer: Answer): "a" | "b" | "tie" {
  if (answer === "tie") return "tie";
  return (answer === "left") === pair.leftIsA ? "a" : "b";
}

const SCHEMA = `
CREATE TABLE study (id INTEGER PRIMARY KEY CHECK (id = 1), config TEXT NOT NULL);
CREATE TABLE methods (
  id INTEGER PRIMARY KEY, label TEXT NOT NULL, method TEXT NOT NULL, source TEXT NOT NULL, sha256 TEXT NOT NULL
);
CREATE TABLE pairs (
  id INTEGER PRIMARY KEY, prompt TEXT NOT NULL, noise_index INTEGER NOT NULL,
  method_a INTEGER NOT NULL REFERENCES methods(id), method_b INTEGER NOT NULL REFERENCES methods(id),
  image_a TEXT NOT NULL, image_b TEXT NOT NULL, left_is_a INTEGER NOT NULL CHECK (left_is_a IN (0, 1))
);
CREATE TABLE votes (
  id INTEGER PRIMARY KEY AUTOINCREMENT, rater TEXT NOT NULL, pair_id INTEGER NOT NULL REFERENCES pairs(id),
  answer TEXT NOT NULL CHECK (answer IN ('left', 'right', 'tie')), created_at TEXT NOT NULL,
  time_ms INTEGER NOT NULL CHECK (time_ms >= 0), UNIQUE (rater, pair_id)
);
CREATE INDEX votes_by_pair ON votes (pair_id);
`;

interface PairRow {
  id: number;
  prompt: string;
  noise_index: number;
  method_a: number;
  method_b: number;
  image_a: string;
  image_b: string;
  left_is_a: number;
}

interface VoteRow {
  id: number;
  rater: string;
  pair_id: number;
  answer: Answer;
  created_at: string;
  time_ms: number;
}

const toPair = (r: PairRow): Pair => ({
  id: r.id,
  prompt: r.prompt,
  noiseIndex: r.noise_index,
  methodA: r.method_a,
  methodB: r.method_b,
  imageA: r.image_a,
  imageB: r.image_b,
  leftIsA: r.left_is_a === 1,
});
const toVote = (r: VoteRow): Vote => ({ id: r.id, rater: r.rater, pairId: r.pair_id, answer: r.answer, createdAt: r.created_at, timeMs: r.time_ms });

/** FNV-1a hash of a string's UTF-16 code units (32 bits). */
export function stringHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export const studyDbPath = (dir: string) => join(dir, STUDY_DB);
export const imagePath = (dir: string, hash: string) => join(dir, IMAGES_DIR, `${hash}.png`);

function configure(db: Database.Database): void {
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
}

/**
 * Open a database; better-sqlite3 is a native addon built for the Node that ran `npm ci`, so on
 * another Node (e.g. a newer one on the PATH for speed, docs/performance.md "Runtime") it cannot
 * load: say so, instead of blaming the study file.
 */
function openDatabase(path: string, options?: Database.Options): Database.Database {
  try {
    return new Database(path, options);
  } catch (err) {
    const message = (err as Error).message;
    if (/NODE_MODULE_VERSION|was compiled against a different Node\.js version/.test(message)) {
      throw new UserError(`the vote store (better-sqlite3, a native addon) was built for another Node than this one (${process.version}, ABI ${process.versions.modules}); run \`grpo-guard rate\` with the Node that ran \`npm ci\`, or rebuild it for this one (\`npm rebuild better-sqlite3\`)`);
    }
    throw err;
  }
}

/** Fail now, before minutes of sampling, when the vote store cannot load on this Node (see openDatabase). */
export function checkVoteStoreLoads(): void {
  openDatabase(":memory:").close();
}

export class StudyStore {
  readonly config: StudyConfig;
  private readonly pairById: Map<number, Pair>;
  private readonly insert: Database.Statement;

  private constructor(readonly dir: string, private readonly db: Database.Database) {
    const row = db.prepare("SELECT config FROM study WHERE id = 1").get() as { config: string } | undefined;
    if (!row) throw new UserError(`${studyDbPath(dir)}: holds no study configuration`);
    this.config = JSON.parse(row.config) as StudyConfig;
    this.pairById = new Map(this.pairs().map((p) => [p.id, p]));
    this.insert = db.prepare("INSERT INTO votes (rater, pair_id, answer, created_at, time_ms) VALUES (?, ?, ?, ?, ?)");
  }

  /** Write a complete study database next to its images (via a temporary file, so a half-made study never looks finished). */
  static create(dir: string, config: StudyConfig, methods: readonly Method[], pairs: readonly Pair[]): StudyStore {
    const path = studyDbPath(dir);
    if (existsSync(path)) throw new UserError(`${path}: a study already exists here`);
    const temporary = `${path}.partial`;
    rmSync(temporary, { force: true });
    const db = openDatabase(temporary);
    try {
      db.exec(SCHEMA);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      db.transaction(() => {
        db.prepare("INSERT INTO study (id, config) VALUES (1, ?)").run(JSON.stringify(config));
        const method = db.prepare("INSERT INTO methods (id, label, method, source, sha256) VALUES (?, ?, ?, ?, ?)");
        for (const m of methods) method.run(m.id, m.label, m.method, m.source, m.sha256);
        const pair = db.prepare("INSERT INTO pairs (id, prompt, noise_index, method_a, method_b, image_a, image_b, left_is_a) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        for (const p of pairs) pair.run(p.id, p.prompt, p.noiseIndex, p.methodA, p.methodB, p.imageA, p.imageB, p.leftIsA ? 1 : 0);
      })();
    } finally {
      db.close();
    }
    renameSync(temporary, path);
    return StudyStore.open(dir);
  }

  static exists(dir: string): boolean {
    return existsSync(studyDbPath(dir));
  }

  static open(dir: string): StudyStore {
    const path = studyDbPath(dir);
    if (!existsSync(path)) throw new UserError(`${dir}: no rating study here (no ${STUDY_DB})`);
    let db: Database.Database;
    try {
      db = openDatabase(path, { fileMustExist: true });
      configure(db);
      const version = db.pragma("user_version", { simple: true });
      if (version !== SCHEMA_VERSION) throw new Error(`schema version ${String(version)}, expected ${SCHEMA_VERSION}`);
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(`${path}: not a rating study database (${(err as Error).message})`);
    }
    return new StudyStore(dir, db);
  }

  methods(): Method[] {
    return this.db.prepare("SELECT id, label, method, source, sha256 FROM methods ORDER BY id").all() as Method[];
  }

  pairs(): Pair[] {
    return (this.db.prepare("SELECT * FROM pairs ORDER BY id").all() as PairRow[]).map(toPair);
  }

  pair(id: number): Pair | undefined {
    return this.pairById.get(id);
  }

  hasImage(hash: string): boolean {
    return this.db.prepare("SELECT 1 FROM pairs WHERE image_a = ? OR image_b = ? LIMIT 1").get(hash, hash) !== undefined;
  }

  votes(): Vote[] {
    return (this.db.prepare("SELECT * FROM votes ORDER BY id").all() as VoteRow[]).map(toVote);
  }

  /** How many pairs `rater` has answered. */
  answered(rater: string): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM votes WHERE rater = ?").get(rater) as { n: number }).n;
  }

  /**
   * The order `rater` sees the pairs in: a permutation seeded by the study's seed and the
   * rater's id, so order effects differ between raters and a rater's order never changes.
   */
  orderFor(rater: string): number[] {
    const ids = [...this.pairById.keys()].sort((a, b) => a - b);
    return new HostRng(mixSeed(this.config.seed, stringHash(rater))).permutation(ids.length).map((k) => ids[k]);
  }

  /** The first pair in `rater`'s order that they have not answered yet. */
  nextPair(rater: string): Pair | undefined {
    const answered = new Set((this.db.prepare("SELECT pair_id FROM votes WHERE rater = ?").all(rater) as { pair_id: number }[]).map((r) => r.pair_id));
    const id = this.orderFor(rater).find((k) => !answered.has(k));
    return id === undefined ? undefined : this.pairById.get(id);
  }

  recordVote(rater: string, pairId: number, answer: Answer, timeMs: number, now = new Date()): VoteResult {
    if (!this.pairById.has(pairId)) return { status: "unknown-pair" };
    try {
      const info = this.insert.run(rater, pairId, answer, now.toISOString(), Math.round(timeMs));
      return { status: "recorded", vote: { id: Number(info.lastInsertRowid), rater, pairId, answer, createdAt: now.toISOString(), timeMs: Math.round(timeMs) } };
    } catch (err) {
      if ((err as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE") return { status: "duplicate" };
      throw err;
    }
  }

  close(): void {
    this.db.close();
  }
}
