import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { decodeStatusDetails, encodeStatusDetails } from '../../src/grpc/index.js';

const root = protobuf.parse(`
syntax = "proto3";
package google.rpc;
message Any { string type_url = 1; bytes value = 2; }
message Status { int32 code = 1; string message = 2; repeated Any details = 3; }
`).root;
const RpcStatus = root.lookupType('google.rpc.Status');

test('encoded google.rpc.Status is what protobufjs reads, and back', () => {
  const bytes = encodeStatusDetails({
    code: 3,
    message: 'bad ☺',
    details: [{ typeUrl: 'type.googleapis.com/google.rpc.BadRequest', value: Uint8Array.of(10, 1, 120) }],
  });
  const viaProtobufjs = RpcStatus.toObject(RpcStatus.decode(bytes)) as { code: number; message: string; details: { typeUrl: string; value: Uint8Array }[] };
  assert.equal(viaProtobufjs.code, 3);
  assert.equal(viaProtobufjs.message, 'bad ☺');
  assert.equal(viaProtobufjs.details[0]!.typeUrl, 'type.googleapis.com/google.rpc.BadRequest');
  assert.deepEqual([...viaProtobufjs.details[0]!.value], [10, 1, 120]);
  const back = decodeStatusDetails(RpcStatus.encode(RpcStatus.fromObject({ code: 5, message: 'x', details: [{ typeUrl: 't', value: Buffer.from([1]) }] })).finish());
  assert.deepEqual(back, { code: 5, message: 'x', details: [{ typeUrl: 't', value: Uint8Array.of(1) }] });
});

test('property: round trip; fuzz: arbitrary bytes decode or give undefined', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 16 }),
      fc.string({ unit: 'grapheme' }),
      fc.array(fc.record({ typeUrl: fc.string({ unit: 'grapheme' }), value: fc.uint8Array({ maxLength: 20 }) }), { maxLength: 3 }),
      (code, message, details) => {
        assert.deepEqual(decodeStatusDetails(encodeStatusDetails({ code, message, details })), { code, message, details: details.map((d) => ({ typeUrl: d.typeUrl, value: Uint8Array.from(d.value) })) });
      },
    ),
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => void decodeStatusDetails(b)), { numRuns: 2000 });
});
