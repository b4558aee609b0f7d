/**
 * FrameReader (src/kafka_protocol/frame_reader.ts): the bytes of one connection on their way to
 * frames, with a runtime whose reads go where readInto says (as tcp_deno.ts's do). The listener's
 * tests (listener_test.ts) send the same cases over a real socket.
 */
import assert from "node:assert/strict";
import { FrameReader, READ_IN_PLACE_MIN_BYTES } from "../../src/kafka_protocol/frame_reader.ts";

/** A fake socket: a byte stream read in chunks of `chunk` bytes into a slab or readInto's target. */
class Socket {
  target: Uint8Array | null = null;
  at = 0;
  constructor(readonly stream: Uint8Array) {}
  readInto = (t: Uint8Array | null) => {
    this.target = t;
  };
  /** One read of up to `n` bytes, where the runtime would put it. */
  read(n: number): Uint8Array {
    const len = Math.min(n, this.stream.length - this.at, this.target?.length ?? Infinity);
    const src = this.stream.subarray(this.at, this.at + len);
    this.at += len;
    if (this.target === null) return src.slice(); // a fresh slab
    const t = this.target;
    t.set(src);
    this.target = len === t.length ? null : t.subarray(len);
    return t.subarray(0, len);
  }
}

function frameOf(size: number, seed: number): Uint8Array {
  const f = new Uint8Array(4 + size);
  new DataView(f.buffer).setInt32(0, size);
  for (let i = 4; i < f.length; i++) f[i] = (i * 7 + seed) & 0xff;
  return f;
}

/** Cuts every frame the way server.ts does; returns them (bodies) and whether each was a view. */
function cutAll(reader: FrameReader, socket: Socket, chunk: number, readInPlace: boolean) {
  const frames: Uint8Array[] = [];
  let size = -1;
  while (socket.at < socket.stream.length || reader.pendingBytes > 0) {
    if (socket.at < socket.stream.length) {
      const done = reader.push(socket.read(chunk));
      if (done !== null) {
        frames.push(done);
        size = -1;
      }
    }
    for (;;) {
      if (reader.assembling) break;
      if (size < 0) {
        if (reader.pendingBytes < 4) break;
        size = reader.takeSize();
      }
      if (reader.pendingBytes < size) {
        if (readInPlace) reader.readInPlace(size);
        break;
      }
      frames.push(reader.take(size));
      size = -1;
    }
    if (socket.at >= socket.stream.length && reader.pendingBytes < 4 && size < 0) break;
  }
  return frames;
}

Deno.test("FrameReader", async (t) => {
  const sizes = [8, 100, 3000, READ_IN_PLACE_MIN_BYTES * 5 + 3, 9, 70_000, 12, 200_000, 8];
  const frames = sizes.map((s, i) => frameOf(s, i));
  const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  frames.reduce((at, f) => (stream.set(f, at), at + f.length), 0);
  const bodies = frames.map((f) => f.subarray(4));

  for (const chunk of [1, 3, 7, 4096, 65536]) {
    await t.step(`chunks of ${chunk} bytes: every frame intact, in order`, () => {
      const socket = new Socket(stream);
      const got = cutAll(new FrameReader(socket.readInto), socket, chunk, true);
      assert.deepEqual(got, bodies);
    });
  }

  await t.step("a frame inside one chunk is a view of it, not a copy", () => {
    const socket = new Socket(stream.subarray(0, frames[0].length + frames[1].length));
    const reader = new FrameReader(undefined);
    const chunk = socket.read(1 << 20);
    reader.push(chunk);
    const first = reader.take(reader.takeSize());
    assert.equal(first.buffer, chunk.buffer);
    const second = reader.take(reader.takeSize());
    assert.equal(second.buffer, chunk.buffer);
    assert.deepEqual([first, second], bodies.slice(0, 2));
  });

  await t.step("a large frame is read in place: the socket's reads land in the frame", () => {
    const big = frameOf(200_000, 9);
    const socket = new Socket(big);
    const reader = new FrameReader(socket.readInto);
    reader.push(socket.read(1000));
    const size = reader.takeSize();
    assert.equal(reader.readInPlace(size), true);
    let done: Uint8Array | null = null;
    let reads = 0;
    while (done === null) {
      const bytes = socket.read(65536);
      reads++;
      done = reader.push(bytes);
      if (done === null) assert.equal(bytes.buffer, socket.target!.buffer, "read into the frame");
    }
    assert.deepEqual(done, big.subarray(4));
    assert.equal(reads, Math.ceil((200_004 - 1000) / 65536));
  });

  await t.step("a read under way when readInPlace began is copied in, its excess kept", () => {
    const big = frameOf(READ_IN_PLACE_MIN_BYTES * 2, 3);
    const next = frameOf(10, 4);
    const both = new Uint8Array(big.length + next.length);
    both.set(big);
    both.set(next, big.length);
    const socket = new Socket(both);
    const reader = new FrameReader(socket.readInto);
    reader.push(socket.read(100));
    const size = reader.takeSize();
    // The runtime's slab read was already under way: it returns the rest of both frames.
    const underWay = both.slice(100);
    socket.at = both.length;
    assert.equal(reader.readInPlace(size), true);
    const done = reader.push(underWay);
    assert.deepEqual(done, big.subarray(4));
    assert.equal(socket.target, null, "the runtime's target is cancelled once the frame is full");
    assert.equal(reader.pendingBytes, next.length);
    assert.deepEqual(reader.take(reader.takeSize()), next.subarray(4));
  });

  await t.step(
    "without readInto, or with little left to come, frames are not read in place",
    () => {
      const socket = new Socket(frameOf(READ_IN_PLACE_MIN_BYTES * 4, 1));
      const none = new FrameReader(undefined);
      none.push(socket.read(10));
      assert.equal(none.readInPlace(none.takeSize()), false);
      const again = new Socket(socket.stream);
      const near = new FrameReader(again.readInto);
      near.push(again.read(READ_IN_PLACE_MIN_BYTES * 3 + 10));
      assert.equal(near.readInPlace(near.takeSize()), false, "less than the minimum to come");
    },
  );

  await t.step("size prefixes split across chunks read as signed 32-bit", () => {
    const reader = new FrameReader(undefined);
    for (const b of [0xff, 0xff, 0xff, 0xf0]) reader.push(new Uint8Array([b]));
    assert.equal(reader.takeSize(), -16);
    reader.push(new Uint8Array([0x00, 0x01]));
    reader.push(new Uint8Array([0x02, 0x03, 0x04]));
    assert.equal(reader.takeSize(), 0x00010203);
    assert.equal(reader.pendingBytes, 1);
  });
});
