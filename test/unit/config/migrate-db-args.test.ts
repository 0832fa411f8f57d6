import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CliError } from "../../../src/cli/args.js";
import { parseMigrateDbArgs } from "../../../src/cli/migrate-db-args.js";

describe("migrate-db command line", () => {
  test("--from sqlite:<path> and --to postgres://… are taken as given", () => {
    assert.deepEqual(parseMigrateDbArgs(["--from", "sqlite:data/msn.db", "--to", "postgres://u:p@db/msn"]), {
      sqlitePath: "data/msn.db",
      postgresUri: "postgres://u:p@db/msn",
    });
    assert.deepEqual(parseMigrateDbArgs(["--to=postgresql://db/msn", "--from=sqlite:/x.db"]), {
      sqlitePath: "/x.db",
      postgresUri: "postgresql://db/msn",
    });
    assert.equal(parseMigrateDbArgs(["-h"]), null);
  });

  test("wrong usage is a CliError that names the problem and never echoes a password", () => {
    const cases: [string[], RegExp][] = [
      [[], /--from sqlite:<path> is required/],
      [["--from", "sqlite:/x.db"], /--to postgres:\/\/… is required/],
      [["--from", "/x.db", "--to", "postgres://db/m"], /--from: expected sqlite:<path>/],
      [["--from", "sqlite:", "--to", "postgres://db/m"], /--from: expected sqlite:<path>/],
      [["--from", "sqlite::memory:", "--to", "postgres://db/m"], /in-memory/],
      [
        ["--from", "sqlite:/x.db", "--to", "mysql://root:hunter2@db/m"],
        /--to: expected a postgres:\/\/… URL, got "mysql:"/,
      ],
      [["--from", "sqlite:/x.db", "--to", "postgres://db/m", "extra"], /Unexpected argument/],
      [["--from", "sqlite:/x.db", "--to", "postgres://db/m", "--force"], /Unknown option/],
    ];
    for (const [argv, re] of cases) {
      const res = parseMigrateDbArgs(argv);
      assert.ok(res instanceof CliError, argv.join(" "));
      assert.match(res.message, re);
      assert.ok(!res.message.includes("hunter2"));
    }
  });
});
