// The SDK's filesystem calls (sprite.filesystem()) against a live sprig:
// each call, binary content byte for byte, a file bigger than one agent
// frame, the errors a user meets (each with its code in the SDK's
// FilesystemError), paths that try to leave the guest, the size limit, and
// a sleeping sprite woken by a read. Run by tests/integration/test_sdk.sh
// with SPRIG_URL and SPRIG_TOKEN set; it makes and deletes its own sprite.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SpritesClient, FilesystemError } from '@fly/sprites';

const url = process.env.SPRIG_URL;
const token = process.env.SPRIG_TOKEN;
assert.ok(url && token, 'SPRIG_URL and SPRIG_TOKEN must be set');

const client = new SpritesClient(token, { baseURL: url, timeout: 120000 });
const F = 'fs-a';
const LIMIT = 32 * 1024 * 1024;	// api/fs.c FS_MAX_FILE
let sprite, fs;

after(async () => {
	await client.deleteSprite(F).catch(() => {});
});

// Whether @promise rejects with a FilesystemError of @code whose message matches @re.
async function rejectsFS(promise, code, re) {
	await assert.rejects(promise, (e) => {
		assert.ok(e instanceof FilesystemError, `a FilesystemError, not ${e}`);
		assert.equal(e.code, code, e.message);
		if (re)
			assert.match(e.message, re);
		return true;
	});
}

async function sh(cmd) {
	return (await sprite.execFile('sh', ['-c', cmd])).stdout;
}

async function api(method, path) {
	const r = await fetch(`${url}/v1/sprites/${F}${path}`, {
		method, headers: { Authorization: `Bearer ${token}` },
	});
	return { status: r.status, body: await r.json() };
}

test('setup: a sprite and a directory to work in', async () => {
	sprite = await client.createSprite(F);
	fs = sprite.filesystem('/tmp');
	await sh('rm -rf /tmp/w && mkdir /tmp/w');
});

test('writeFile and readFile: text, in the working directory and absolute', async () => {
	await fs.writeFile('w/hello.txt', 'hello, sprite\n');
	assert.equal(await fs.readFile('w/hello.txt', 'utf8'), 'hello, sprite\n');
	assert.equal(await sprite.filesystem('/').readFile('/tmp/w/hello.txt', 'utf8'),
	    'hello, sprite\n');
	assert.equal(await sh('cat /tmp/w/hello.txt'), 'hello, sprite\n');
	// Overwriting replaces the whole file.
	await fs.writeFile('w/hello.txt', 'short');
	assert.equal(await sh('cat /tmp/w/hello.txt'), 'short');
	// An empty file.
	await fs.writeFile('w/empty', '');
	assert.equal((await fs.readFile('w/empty')).length, 0);
});

test('binary content bigger than one agent frame round-trips byte for byte', async () => {
	const data = randomBytes(3 * 1024 * 1024 + 17);
	await fs.writeFile('w/blob.bin', data);
	const back = await fs.readFile('w/blob.bin');
	assert.ok(Buffer.isBuffer(back));
	assert.equal(back.length, data.length);
	assert.ok(back.equals(data), 'the bytes read back are the bytes written');
	const sum = (await sh('md5sum /tmp/w/blob.bin')).split(' ')[0];
	const { createHash } = await import('node:crypto');
	assert.equal(sum, createHash('md5').update(data).digest('hex'));
});

test('writeFile with a mode, and parents made on the way', async () => {
	await fs.writeFile('w/deep/er/x.sh', '#!/bin/sh\n', { mode: 0o750 });
	assert.equal(await sh('stat -c %a /tmp/w/deep/er/x.sh'), '750\n');
	const st = await fs.stat('w/deep/er/x.sh');
	assert.equal(st.mode, 0o750);
	assert.ok(st.isFile());
	assert.equal(st.size, 10);
	assert.ok(st.mtime instanceof Date && !isNaN(st.mtime));
});

test('mkdir, recursive and not', async () => {
	await fs.mkdir('w/m1');
	await fs.mkdir('w/m2/a/b', { recursive: true });
	assert.equal(await sh('test -d /tmp/w/m1 && test -d /tmp/w/m2/a/b && echo ok'), 'ok\n');
	assert.deepEqual(await fs.readdir('w/m2/a/b'), []);
	await rejectsFS(fs.mkdir('w/none/a/b'), 'ENOENT');
});

test('readdir: names, types, recursive and a pattern', async () => {
	await sh('mkdir -p /tmp/w/d/sub && touch /tmp/w/d/a.txt /tmp/w/d/b.log /tmp/w/d/sub/c.txt' +
	    ' && ln -s a.txt /tmp/w/d/link');
	assert.deepEqual((await fs.readdir('w/d')).sort(), ['a.txt', 'b.log', 'link', 'sub']);
	const ents = await fs.readdir('w/d', { withFileTypes: true });
	const by = Object.fromEntries(ents.map((e) => [e.name, e]));
	assert.ok(by['sub'].isDirectory());
	assert.ok(by['a.txt'].isFile());
	assert.ok(by['link'].isSymbolicLink());
	assert.equal(by['a.txt'].parentPath, 'w/d');
	assert.deepEqual((await fs.readdir('w/d', { recursive: true })).sort(),
	    ['a.txt', 'b.log', 'link', 'sub', 'sub/c.txt']);
	assert.deepEqual((await fs.readdir('w/d', { recursive: true, pattern: '*.txt' })).sort(),
	    ['a.txt', 'sub/c.txt']);
	assert.equal(await fs.exists('w/d/a.txt'), true);
	assert.equal(await fs.exists('w/d/nope'), false);
	await rejectsFS(fs.readdir('w/nope'), 'ENOENT');
});

test('rename', async () => {
	await fs.writeFile('w/r1', 'moving');
	await fs.rename('w/r1', 'w/r2');
	assert.equal(await fs.readFile('w/r2', 'utf8'), 'moving');
	assert.equal(await fs.exists('w/r1'), false);
	await rejectsFS(fs.rename('w/r1', 'w/r3'), 'ENOENT');
});

test('copyFile, and a directory recursively', async () => {
	await fs.copyFile('w/r2', 'w/r2copy');
	assert.equal(await fs.readFile('w/r2copy', 'utf8'), 'moving');
	assert.equal(await fs.readFile('w/r2', 'utf8'), 'moving');
	await rejectsFS(fs.copyFile('w/d', 'w/d2'), 'EISDIR');
	await fs.copyFile('w/d', 'w/d2', { recursive: true });
	assert.deepEqual((await fs.readdir('w/d2', { recursive: true })).sort(),
	    ['a.txt', 'b.log', 'link', 'sub', 'sub/c.txt']);
	assert.equal(await sh('readlink /tmp/w/d2/link'), 'a.txt\n');
	await rejectsFS(fs.copyFile('w/d', 'w/d/inside', { recursive: true }), 'EINVAL');
});

test('chmod, and recursively', async () => {
	await fs.chmod('w/r2', 0o600);
	assert.equal((await fs.stat('w/r2')).mode, 0o600);
	await fs.chmod('w/d2', 0o700, { recursive: true });
	assert.equal(await sh('stat -c %a /tmp/w/d2 /tmp/w/d2/a.txt /tmp/w/d2/sub/c.txt'),
	    '700\n700\n700\n');
	await rejectsFS(fs.chmod('w/nope', 0o600), 'ENOENT');
});

test('rm: a file, a directory only with recursive, force on a missing one', async () => {
	await fs.rm('w/r2copy');
	assert.equal(await fs.exists('w/r2copy'), false);
	await rejectsFS(fs.rm('w/d2'), 'EISDIR');
	await fs.rm('w/d2', { recursive: true });
	assert.equal(await sh('test -e /tmp/w/d2 || echo gone'), 'gone\n');
	await rejectsFS(fs.rm('w/d2'), 'ENOENT');
	await fs.rm('w/d2', { force: true });
});

test('a whole tree is copied and removed without holding up other calls', async () => {
	// 24 MiB in 6 files, and 1500 small ones (/tmp is a small tmpfs): a
	// copy of a second or so under TCG (every file is several system calls).
	await sh('mkdir -p /tmp/w/big/small && cd /tmp/w/big && ' +
	    'for i in 1 2 3 4 5 6; do ' +
	    'dd if=/dev/zero of=f$i bs=1M count=4 2>/dev/null; done; ' +
	    'i=0; while [ $i -lt 1500 ]; do echo $i > small/s$i; i=$((i+1)); done');
	const full = Number(await sh('du -sk /tmp/w/big | cut -f1'));
	const copy = fs.copyFile('w/big', 'w/big2', { recursive: true });
	// Once the copy has begun, execs start and answer while it still runs.
	// (A copy done in the agent itself let no exec start until its end:
	// then the one after the first to see the copy saw all of it.)
	let seen = '';
	for (let i = 0; i < 400 && seen === ''; i++)
		seen = await sh('if [ -d /tmp/w/big2 ]; then du -sk /tmp/w/big2 | cut -f1; fi');
	const again = await sh('du -sk /tmp/w/big2 | cut -f1');
	assert.ok(Number(again) < full,
	    `an exec started during the copy saw ${Number(again)} KiB of ${full} (first ${Number(seen)})`);
	await copy;
	assert.equal((await fs.readdir('w/big2')).length, 7);
	assert.equal(await sh('cmp /tmp/w/big/f6 /tmp/w/big2/f6 && ' +
	    'cat /tmp/w/big2/small/s1499'), '1499\n');
	await fs.rm('w/big2', { recursive: true });
	assert.equal(await fs.exists('w/big2'), false);
	await sh('rm -r /tmp/w/big');
});

test('a tree operation whose worker dies answers with an error, and the agent goes on',
    async () => {
	// The agent copies a tree in a child of its own (guest/files.c); kill
	// that child mid-copy, as the OOM killer might: the call must fail
	// with EIO rather than hang, and the next calls be answered.
	await sh('mkdir -p /tmp/w/tree/small && cd /tmp/w/tree && ' +
	    'i=0; while [ $i -lt 1500 ]; do echo $i > small/s$i; i=$((i+1)); done');
	const copy = fs.copyFile('w/tree', 'w/tree2', { recursive: true });
	copy.catch(() => {});	// looked at below
	let killed = '';
	for (let i = 0; i < 400 && killed === ''; i++) {
		// Its child has PID 1's name (a fork without exec) and PID 1 as parent.
		killed = await sh('for d in /proc/[0-9]*; do p=${d#/proc/}; ' +
		    '[ "$p" != 1 ] && [ "$(cat $d/comm)" = "$(cat /proc/1/comm)" ] && ' +
		    'grep -q "^PPid:[[:space:]]*1$" $d/status && kill -9 $p && echo $p; done; true');
	}
	assert.notEqual(killed, '', 'the copy\'s child was found and killed');
	await rejectsFS(copy, 'EIO');
	assert.equal(await fs.exists('w/tree'), true);
	await sh('rm -rf /tmp/w/tree /tmp/w/tree2');
});

test('errors: a missing file, a directory where a file is wanted, a file as a directory',
    async () => {
	await rejectsFS(fs.readFile('w/missing'), 'ENOENT', /missing/);
	await rejectsFS(fs.readFile('w/d'), 'EISDIR');
	await rejectsFS(fs.writeFile('w/d', 'x'), 'EISDIR');
	await rejectsFS(fs.readFile('w/r2/below'), 'ENOTDIR');
	// A failed write leaves the file as it was.
	assert.equal(await fs.readFile('w/r2', 'utf8'), 'moving');
});

test('paths are the guest\'s: .. and symlinks resolve inside it', async () => {
	const hostname = await sh('test -s /etc/hostname || hostname > /etc/hostname; ' +
	    'cat /etc/hostname');
	assert.ok(hostname.length > 0);
	assert.equal(await fs.readFile('../../../../etc/hostname', 'utf8'), hostname);
	assert.equal(await sprite.filesystem('/').readFile('/../../etc/hostname', 'utf8'), hostname);
	await sh('ln -sf /etc/hostname /tmp/w/hn && ln -sf ../../../../../etc/hostname /tmp/w/up');
	assert.equal(await fs.readFile('w/hn', 'utf8'), hostname);
	assert.equal(await fs.readFile('w/up', 'utf8'), hostname);
	// Writing through a link changes its target, as open(2) would.
	await sh('echo old > /tmp/w/target && ln -sf /tmp/w/target /tmp/w/tl');
	await fs.writeFile('w/tl', 'new\n');
	assert.equal(await sh('cat /tmp/w/target; test -L /tmp/w/tl && echo link'), 'new\nlink\n');
});

test('files over the size limit are refused, saying so', async () => {
	await sh(`dd if=/dev/zero of=/tmp/w/huge bs=1 count=0 seek=${LIMIT + 1} 2>/dev/null`);
	await rejectsFS(fs.readFile('w/huge'), 'UNKNOWN', /over the limit of 33554432 bytes/);
	await rejectsFS(fs.writeFile('w/toobig', Buffer.alloc(LIMIT + 1)), 'UNKNOWN',
	    /over the limit of 33554432 bytes/);
	assert.equal(await fs.exists('w/toobig'), false);
	await sh('rm /tmp/w/huge');
});

test('a sleeping sprite is woken by a read', async () => {
	let r = await api('POST', '/sleep');
	assert.equal(r.status, 200, JSON.stringify(r.body));
	assert.equal((await client.getSprite(F)).status, 'sleeping');
	assert.equal(await fs.readFile('w/hello.txt', 'utf8'), 'short');
	assert.equal((await client.getSprite(F)).status, 'running');
});

test('bad requests: no path, a bad mode, an unknown call', async () => {
	await rejectsFS(fs.readFile(''), 'EINVAL', /path is required/);
	await rejectsFS(fs.chmod('w/hello.txt', 0o7777 + 1), 'EINVAL', /mode/);
	const r = await api('GET', '/fs/frobnicate?path=/');
	assert.equal(r.status, 404);
	assert.match(r.body.error, /no filesystem call/);
	const none = client.sprite('no-such-sprite').filesystem('/');
	await assert.rejects(none.readFile('/etc/hostname'), /no sprite|not found/i);
});

test('cleanup', async () => {
	await client.deleteSprite(F);
});
