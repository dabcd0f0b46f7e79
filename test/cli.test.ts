import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { MIGRATION_NAMES } from '../src/db/connect.ts';
import {
  adminQuery,
  databaseUrl,
  deleteQueueKeys,
  REDIS_URL,
  EXAMPLE_HASH,
  uniqueName,
} from './harness.ts';

/**
 * The operators' CLI, run as a child process through its bin file, against real
 * Postgres. Each group of tests that writes gets its own database, made by the CLI's
 * own `migrate` and `seed`, and dropped at the end.
 */

const BIN = fileURLToPath(new URL('../bin/phonebook.js', import.meta.url));
const CLI_TIMEOUT_MS = 20_000;

/** The API page's example call, as `hash` arguments. */
const EXAMPLE_PARAMS = [
  'user_id=2',
  'number=920355666',
  'name=phonebook',
  'speeddial=666',
];

/** Checked with sha1sum (../shared/DESIGN.md, "Hash"). */
const HASH_456789 = '85c9f6ed0056a425bfc630f074f4c1d60c5e1a22';

const DEMO_USER_LIST =
  'id  username       usertype    owner_id\n' +
  '0   admin          admin       -1\n' +
  '2   username       user        0\n' +
  '3   reseller       reseller    0\n' +
  '4   accountant     accountant  0\n' +
  '5   user_reseller  user        3\n';

const USERNAME_TAKEN =
  'a user with this username exists already (usernames are unique regardless of case)';

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

interface CliOptions {
  /** DATABASE_URL; by default a database that is never created. */
  url?: string;
  env?: Record<string, string>;
  /** Written to standard input, which is then closed. */
  input?: string;
}

const missingDatabaseUrl = databaseUrl(uniqueName('phonebook_cli_missing'));

/** Runs `phonebook ARGS` with a clean environment: no inherited secret or node options. */
function phonebook(args: string[], options: CliOptions = {}): Promise<CliRun> {
  const env = {
    PATH: process.env.PATH ?? '',
    DATABASE_URL: options.url ?? missingDatabaseUrl,
    ...options.env,
  };
  const started = performance.now();

  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env,
      timeout: CLI_TIMEOUT_MS,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout, stderr, durationMs: performance.now() - started }),
    );
    child.stdin.end(options.input ?? '');
  });
}

function sha1(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

async function query<Row>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as Row[];
  } finally {
    await client.end();
  }
}

async function dropDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  await adminQuery(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
}

/** A new database, migrated and seeded by the CLI itself. */
async function seededDatabase(): Promise<string> {
  const url = databaseUrl(uniqueName('phonebook_cli'));
  for (const command of ['migrate', 'seed']) {
    const run = await phonebook([command], { url });
    assert.equal(run.code, 0, `${command} failed: ${run.stderr}`);
  }
  return url;
}

/** Every user and setting, in a fixed order, to compare before and after a step. */
async function snapshot(url: string): Promise<unknown> {
  return {
    users: await query(url, 'select * from users order by id'),
    settings: await query(url, 'select * from settings order by scope_owner_id, name'),
  };
}

function assertFailure(run: CliRun, code: number, line: string): void {
  assert.equal(run.stderr, `phonebook: ${line}\n`);
  assert.equal(run.stdout, '');
  assert.equal(run.code, code);
}

describe('phonebook hash', { concurrency: true }, () => {
  it('prints the API page example hash for the key secret', async () => {
    const run = await phonebook(['hash', '--secret', 'secret', ...EXAMPLE_PARAMS]);

    assert.equal(run.stdout, `${EXAMPLE_HASH}\n`);
    assert.equal(run.stderr, '');
    assert.equal(run.code, 0);
  });

  it('prints 85c9f6ed… for the example call signed with the key 456789', async () => {
    const run = await phonebook(['hash', '--secret', '456789', ...EXAMPLE_PARAMS]);

    assert.equal(run.stdout, `${HASH_456789}\n`);
    assert.equal(run.code, 0);
  });

  it('signs the params in MOR order whatever their order on the command line', async () => {
    const reversed = [...EXAMPLE_PARAMS].reverse();
    const run = await phonebook(['hash', '--secret', 'secret', ...reversed]);

    assert.equal(run.stdout, `${EXAMPLE_HASH}\n`);
  });

  it('signs callback_url last, after speeddial', async () => {
    const callback = 'callback_url=https://example.test/hook';
    const run = await phonebook([
      'hash',
      '--secret',
      'secret',
      callback,
      ...EXAMPLE_PARAMS,
    ]);

    assert.equal(
      run.stdout,
      `${sha1('2920355666phonebook666https://example.test/hooksecret')}\n`,
    );
  });

  it('takes the secret from PHONEBOOK_SECRET when neither --secret nor --user is given', async () => {
    const run = await phonebook(['hash', ...EXAMPLE_PARAMS], {
      env: { PHONEBOOK_SECRET: 'secret' },
    });

    assert.equal(run.stdout, `${EXAMPLE_HASH}\n`);
    assert.equal(run.code, 0);
  });

  it('reads the secret from standard input when --secret is -', async () => {
    const run = await phonebook(['hash', '--secret', '-', ...EXAMPLE_PARAMS], {
      input: '456789\n',
    });

    assert.equal(run.stdout, `${HASH_456789}\n`);
    assert.equal(run.code, 0);
  });

  it('exits with code 2 when no secret source is given', async () => {
    const run = await phonebook(['hash', ...EXAMPLE_PARAMS]);

    assertFailure(run, 2, 'no secret: give --secret or --user, or set PHONEBOOK_SECRET');
  });

  it('exits with code 2 for a param that is not signed, such as u', async () => {
    const run = await phonebook(['hash', '--secret', 'secret', 'u=username']);

    assertFailure(
      run,
      2,
      'PARAM must be one of user_id, number, name, speeddial, callback_url',
    );
  });
});

describe('phonebook hash --user', () => {
  let url: string;
  before(async () => {
    url = await seededDatabase();
  });
  after(async () => {
    await dropDatabase(url);
  });

  it('signs with the secret of the global scope for user username after seed', async () => {
    const run = await phonebook(['hash', '--user', 'username', ...EXAMPLE_PARAMS], {
      url,
    });

    assert.equal(run.stdout, `${EXAMPLE_HASH}\n`);
    assert.equal(run.stderr, '');
    assert.equal(run.code, 0);
  });

  it('finds the user regardless of the case of the username', async () => {
    const run = await phonebook(['hash', '--user', 'UserName', ...EXAMPLE_PARAMS], {
      url,
    });

    assert.equal(run.stdout, `${EXAMPLE_HASH}\n`);
  });

  it("signs with the reseller's secret for a user the reseller owns", async () => {
    const run = await phonebook(['hash', '--user', 'user_reseller', ...EXAMPLE_PARAMS], {
      url,
    });

    assert.equal(run.stdout, `${sha1('2920355666phonebook666rsecret')}\n`);
  });

  it('exits with code 1 when no user has the username', async () => {
    const run = await phonebook(['hash', '--user', 'nobody', ...EXAMPLE_PARAMS], { url });

    assertFailure(run, 1, 'no user has this username');
  });
});

describe('phonebook migrate', () => {
  const url = databaseUrl(uniqueName('phonebook_cli_migrate'));
  after(async () => {
    await dropDatabase(url);
  });

  it('creates a missing database and applies the migrations', async () => {
    const run = await phonebook(['migrate'], { url });

    assert.equal(run.stdout, 'migrations are up to date\n');
    assert.equal(run.code, 0);
    const applied = await query(url, 'select name from knex_migrations');
    assert.deepEqual(
      applied,
      MIGRATION_NAMES.map((name) => ({ name })),
    );
  });

  it('succeeds again on a migrated database and applies nothing twice', async () => {
    const run = await phonebook(['migrate'], { url });

    assert.equal(run.code, 0);
    const applied = await query(url, 'select name from knex_migrations');
    assert.equal(applied.length, MIGRATION_NAMES.length);
  });
});

describe('phonebook seed', () => {
  let url: string;
  before(async () => {
    url = await seededDatabase();
  });
  after(async () => {
    await dropDatabase(url);
  });

  it('adds the demo users of the design, listed by user list', async () => {
    const run = await phonebook(['user', 'list'], { url });

    assert.equal(run.stdout, DEMO_USER_LIST);
    assert.equal(run.code, 0);
  });

  it('changes nothing when run again, and keeps what an operator changed', async () => {
    const renamed = await phonebook(['user', 'set', '2', '--username', 'renamed'], {
      url,
    });
    const switched = await phonebook(['settings', 'set', '0', 'Allow_API', 'off'], {
      url,
    });
    assert.equal(renamed.code, 0, renamed.stderr);
    assert.equal(switched.code, 0, switched.stderr);
    const before = await snapshot(url);

    const run = await phonebook(['seed'], { url });

    assert.equal(run.stdout, 'demo data is present\n');
    assert.equal(run.code, 0);
    assert.deepEqual(await snapshot(url), before);
  });
});

describe('phonebook user', () => {
  let url: string;
  before(async () => {
    url = await seededDatabase();
  });
  after(async () => {
    await dropDatabase(url);
  });

  const add = (...args: string[]) => phonebook(['user', 'add', ...args], { url });

  it('add without --id takes the next free id, and user list shows the user', async () => {
    const run = await add('--username', 'alice', '--usertype', 'user', '--owner', '3');

    assert.equal(run.stdout, 'added user 6\n');
    assert.equal(run.code, 0);
    const list = await phonebook(['user', 'list'], { url });
    assert.equal(list.stdout, `${DEMO_USER_LIST}6   alice          user        3\n`);
  });

  it('add with --id stores the user under that id', async () => {
    const run = await add(
      '--id',
      '40',
      '--username',
      'bob',
      '--usertype',
      'reseller',
      '--owner',
      '0',
    );

    assert.equal(run.stdout, 'added user 40\n');
    const rows = await query(url, 'select * from users where id = 40');
    assert.deepEqual(rows, [
      { id: '40', username: 'bob', usertype: 'reseller', owner_id: '0' },
    ]);
  });

  it('add refuses a username that differs only in case from an existing one', async () => {
    const before = await snapshot(url);

    const run = await add('--username', 'USERNAME', '--usertype', 'user', '--owner', '0');

    assertFailure(run, 1, USERNAME_TAKEN);
    assert.deepEqual(await snapshot(url), before);
  });

  it('add refuses an id that is taken', async () => {
    const run = await add(
      '--id',
      '3',
      '--username',
      'carol',
      '--usertype',
      'user',
      '--owner',
      '0',
    );

    assertFailure(run, 1, 'user 3 exists already');
  });

  it('add refuses an owner that is neither the admin nor a reseller', async () => {
    const run = await add('--username', 'dave', '--usertype', 'user', '--owner', '2');

    assertFailure(run, 1, 'owner 2 is neither the admin nor a reseller');
  });

  it('add refuses an admin other than user 0', async () => {
    const run = await add('--username', 'root', '--usertype', 'admin', '--owner=-1');

    assertFailure(run, 1, 'the admin is user 0, and user 0 is the admin');
  });

  it('add refuses an unknown usertype with exit code 2', async () => {
    const run = await add('--username', 'erin', '--usertype', 'boss', '--owner', '0');

    assertFailure(run, 2, '--usertype must be one of admin, reseller, user, accountant');
  });

  it('set changes only the fields given', async () => {
    const run = await phonebook(['user', 'set', '5', '--username', 'ur2'], { url });

    assert.equal(run.stdout, 'updated user 5\n');
    const rows = await query(url, 'select * from users where id = 5');
    assert.deepEqual(rows, [
      { id: '5', username: 'ur2', usertype: 'user', owner_id: '3' },
    ]);
  });

  it('set refuses a username another user has in another case', async () => {
    const run = await phonebook(['user', 'set', '4', '--username', 'Admin'], { url });

    assertFailure(run, 1, USERNAME_TAKEN);
  });

  it('set exits with code 1 for a user that does not exist', async () => {
    const run = await phonebook(['user', 'set', '99', '--username', 'zed'], { url });

    assertFailure(run, 1, 'user 99 was not found');
  });
});

describe('phonebook settings', () => {
  let url: string;
  before(async () => {
    url = await seededDatabase();
  });
  after(async () => {
    await dropDatabase(url);
  });

  const settings = (args: string[], input?: string) =>
    phonebook(['settings', ...args], { url, input });

  const stored = async (scope: number, name: string) => {
    const rows = await query<{ value: string }>(
      url,
      'select value from settings where scope_owner_id = $1 and name = $2',
      [scope, name],
    );
    return rows[0]?.value;
  };

  it('show prints the global settings with the secret masked', async () => {
    const run = await settings(['show', '0']);

    assert.equal(
      run.stdout,
      'scope 0 (global)\n' +
        'Allow_API                  on\n' +
        'API_Secret_Key             (hidden)\n' +
        'API_Disable_hash_checking  off (not set)\n' +
        'Allow_GET_API              off\n',
    );
    assert.equal(run.code, 0);
  });

  it("show leaves Allow_GET_API out of a reseller's scope and hides its secret", async () => {
    const run = await settings(['show', '3']);

    assert.equal(
      run.stdout,
      'scope 3 (reseller)\n' +
        'Allow_API                  on\n' +
        'API_Secret_Key             (hidden)\n' +
        'API_Disable_hash_checking  off (not set)\n',
    );
  });

  it('set stores a switch given as on, off, true, false, 1 or 0 as 1 or 0', async () => {
    const cases = [
      ['on', '1'],
      ['off', '0'],
      ['TRUE', '1'],
      ['false', '0'],
      ['1', '1'],
      ['0', '0'],
    ];
    for (const [given, expected] of cases) {
      const run = await settings(['set', '3', 'API_Disable_hash_checking', given!]);

      assert.equal(run.code, 0, run.stderr);
      assert.equal(await stored(3, 'API_Disable_hash_checking'), expected, given);
    }
  });

  it('set with - reads the secret from standard input and never prints it', async () => {
    const run = await settings(['set', '3', 'API_Secret_Key', '-'], 'n3w-secret\n');

    assert.equal(run.stdout, 'API_Secret_Key of scope 3 is now (hidden)\n');
    assert.equal(run.stderr, '');
    assert.equal(await stored(3, 'API_Secret_Key'), 'n3w-secret');
    const hash = await phonebook(['hash', '--user', 'user_reseller', ...EXAMPLE_PARAMS], {
      url,
    });
    assert.equal(hash.stdout, `${sha1('2920355666phonebook666n3w-secret')}\n`);
  });

  it('set refuses Allow_GET_API outside the global scope', async () => {
    const run = await settings(['set', '3', 'Allow_GET_API', 'on']);

    assertFailure(run, 1, 'Allow_GET_API is a global setting: its scope is 0');
    assert.equal(await stored(3, 'Allow_GET_API'), undefined);
  });

  it('set refuses a scope that is neither 0 nor a reseller', async () => {
    const run = await settings(['set', '2', 'Allow_API', 'on']);

    assertFailure(run, 1, 'scope 2 is neither 0 (global) nor the id of a reseller');
    assert.equal(await stored(2, 'Allow_API'), undefined);
  });

  it('set refuses a switch value it does not know with exit code 2', async () => {
    const run = await settings(['set', '0', 'Allow_API', 'maybe']);

    assertFailure(run, 2, 'a switch takes on, off, 1, 0, true or false');
    assert.equal(await stored(0, 'Allow_API'), '1');
  });

  it('set refuses an unknown setting name with exit code 2', async () => {
    const run = await settings(['set', '0', 'Allow_Everything', 'on']);

    assertFailure(
      run,
      2,
      'NAME must be one of Allow_API, API_Secret_Key, API_Disable_hash_checking, Allow_GET_API',
    );
  });
});

describe('phonebook command line', { concurrency: true }, () => {
  it('answers an unknown command with one line and exit code 2', async () => {
    const run = await phonebook(['frobnicate']);

    assertFailure(run, 2, 'unknown command "frobnicate"; run "phonebook --help"');
  });

  it('answers an unknown flag with one line and exit code 2', async () => {
    const run = await phonebook(['user', 'list', '--bogus']);

    assertFailure(run, 2, "Unknown option '--bogus'");
  });

  it('answers no command at all with exit code 2', async () => {
    const run = await phonebook([]);

    assertFailure(run, 2, 'no command; run "phonebook --help"');
  });

  it('prints the usage of every command for --help and exits 0', async () => {
    const commands = [
      'migrate',
      'seed',
      'user add',
      'user set',
      'user list',
      'settings set',
      'settings show',
      'hash',
      'import',
    ];
    for (const command of commands) {
      const run = await phonebook([...command.split(' '), '--help']);

      assert.match(run.stdout, new RegExp(`^Usage: phonebook ${command}\\b`));
      assert.equal(run.code, 0, command);
    }
  });

  it('lists every command for phonebook --help', async () => {
    const run = await phonebook(['--help']);

    assert.match(run.stdout, /^Usage: phonebook COMMAND/);
    for (const command of [
      'migrate',
      'seed',
      'user add',
      'settings show',
      'hash',
      'import',
    ]) {
      assert.match(run.stdout, new RegExp(`\\n  ${command} `));
    }
  });
});

describe('phonebook database errors', { concurrency: true }, () => {
  it('reports an unreachable Postgres in one line with exit code 1, promptly', async () => {
    const run = await phonebook(['user', 'list'], {
      url: 'postgres://postgres@127.0.0.1:1/phonebook',
    });

    assertFailure(run, 1, 'cannot reach Postgres at 127.0.0.1:1 (ECONNREFUSED)');
    assert.ok(run.durationMs < 10_000, `took ${run.durationMs} ms`);
  });

  it('tells to run migrate when the database does not exist', async () => {
    const name = decodeURIComponent(new URL(missingDatabaseUrl).pathname.slice(1));
    const run = await phonebook(['user', 'list']);

    assertFailure(
      run,
      1,
      `database ${name} does not exist; run "phonebook migrate" first`,
    );
  });

  it('refuses a DATABASE_URL that is not a postgres URL with exit code 2', async () => {
    const run = await phonebook(['seed'], { url: 'mysql://127.0.0.1/phonebook' });

    assertFailure(
      run,
      2,
      'invalid configuration: DATABASE_URL: must be a postgres:// URL',
    );
  });
});

describe('phonebook delivery resend', () => {
  let url: string;
  const prefix = uniqueName('cli_delivery');
  const failedJob = randomUUID();
  before(async () => {
    url = await seededDatabase();
    await query(
      url,
      `insert into job_results (job_id, success, result_xml, accepted_at) values ($1, true, 'x', now())`,
      [failedJob],
    );
    await query(
      url,
      `insert into webhook_deliveries (job_id, state, callback_url, scope_owner_id, reason, finished_at)
       values ($1, 'failed', 'http://127.0.0.1:9/cb', 0, 'answered 500', now())`,
      [failedJob],
    );
  });
  after(async () => {
    await dropDatabase(url);
    await deleteQueueKeys(prefix);
  });

  it('makes a failed delivery pending again and queues it', async () => {
    const run = await phonebook(['delivery', 'resend', failedJob], {
      url,
      env: { QUEUE_PREFIX: prefix },
    });

    assert.equal(run.stdout, `delivery of job ${failedJob} queued again\n`);
    assert.equal(run.code, 0);
    const [row] = await query<{ state: string }>(
      url,
      'select state from webhook_deliveries where job_id = $1',
      [failedJob],
    );
    assert.equal(row?.state, 'pending');
    const redis = new Redis(REDIS_URL);
    try {
      assert.deepEqual(await redis.lrange(`${prefix}:webhook-deliveries:wait`, 0, -1), [
        `delivery-${failedJob}`,
      ]);
    } finally {
      redis.disconnect();
    }
  });

  it('refuses a job that has no failed delivery, changing nothing', async () => {
    const other = randomUUID();
    const run = await phonebook(['delivery', 'resend', other], {
      url,
      env: { QUEUE_PREFIX: prefix },
    });
    assertFailure(run, 1, `job ${other} has no failed delivery to resend`);
  });
});
