// GrpcJsMetadata behaves like @grpc/grpc-js's Metadata, and metadata of either
// kind converts to the server's Metadata without losing entries.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { GrpcJsMetadata, Metadata } from '../../src/index.js';
import { copyIntoMetadata } from '../../src/grpc/compat/metadata.js';

/** Runs the same operations on a grpc-js Metadata and on GrpcJsMetadata. */
function both(run: (md: grpc.Metadata | GrpcJsMetadata) => unknown): [unknown, unknown] {
  const capture = (f: () => unknown): unknown => {
    try {
      return f();
    } catch (e) {
      return `throws: ${e instanceof Error}`;
    }
  };
  return [capture(() => run(new grpc.Metadata())), capture(() => run(new GrpcJsMetadata()))];
}

describe('GrpcJsMetadata', () => {
  const cases: Record<string, (md: grpc.Metadata | GrpcJsMetadata) => unknown> = {
    'set then get': (md) => {
      md.set('X-Key', 'one');
      md.set('x-key', 'two');
      return md.get('x-key');
    },
    'add keeps order': (md) => {
      md.add('k', 'a');
      md.add('k', 'b');
      return [md.get('k'), md.getMap()];
    },
    'binary values': (md) => {
      md.add('data-bin', Buffer.from([1, 2]));
      md.add('data-bin', Buffer.from([3]));
      return md.toJSON();
    },
    'remove': (md) => {
      md.set('a', '1');
      md.set('b', '2');
      md.remove('a');
      return [md.get('a'), md.toJSON()];
    },
    'clone is independent': (md) => {
      md.set('a', '1');
      const copy = md.clone();
      copy.add('a', '2');
      return [md.get('a'), copy.get('a')];
    },
    'merge': (md) => {
      const other = new grpc.Metadata();
      other.add('m', 'x');
      other.add('m', 'y');
      md.set('m', 'w');
      md.merge(other as never);
      return md.get('m');
    },
    'missing key': (md) => [md.get('nothing'), md.getMap()],
    'illegal key': (md) => md.set('bad key', 'v'),
    'binary value under a text key': (md) => md.set('text', Buffer.from([1]) as never),
    'text value under a -bin key': (md) => md.set('thing-bin', 'text' as never),
  };
  for (const [name, run] of Object.entries(cases)) {
    it(`matches grpc-js: ${name}`, () => {
      const [expected, actual] = both(run);
      assert.deepEqual(actual, expected);
    });
  }

  it('copies grpc-js Metadata into the server Metadata, leaving out reserved names', () => {
    const md = new grpc.Metadata();
    md.add('x-a', '1');
    md.add('x-a', '2');
    md.set('x-b-bin', Buffer.from([9, 8]));
    md.set('grpc-status', '0');
    const target = new Metadata();
    copyIntoMetadata(target, md);
    assert.deepEqual([...target], [
      ['x-a', '1'],
      ['x-a', '2'],
      ['x-b-bin', Buffer.from([9, 8])],
    ]);
  });

  it('reads the server Metadata as grpc-js style metadata', () => {
    const source = new Metadata().add('k', 'v').add('k-bin', new Uint8Array([7]));
    const md = GrpcJsMetadata.fromMetadata(source);
    assert.deepEqual(md.get('k'), ['v']);
    assert.ok(Buffer.isBuffer(md.get('k-bin')[0]));
    assert.deepEqual(md.toJSON(), { k: ['v'], 'k-bin': [Buffer.from([7])] });
  });
});
