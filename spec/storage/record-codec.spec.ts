import { expect } from 'chai';
import { crc32 } from 'node:zlib';
import {
  decodePayload,
  decodeSegmentHeader,
  encodeRecord,
  encodeSegmentHeader,
  FRAME_HEADER_SIZE,
  recordSize,
  type RecordFields,
} from '../../lib/storage/record-codec';

const fields: RecordFields = {
  id: '0f8fad5b-d9cb-469f-a165-70867728950e',
  stream: 'commande-é✓',
  type: 'Passée',
  isJson: true,
  revision: 9223372036854775807n,
  created: 638_000_000_000_000_000n,
  data: Buffer.from('{"a":1}'),
  metadata: Buffer.from([0, 255]),
};

describe('record codec', () => {
  describe('when a record is encoded', () => {
    it('decodes to the same fields and source position, sized by recordSize', () => {
      const buffer = Buffer.alloc(recordSize(fields));
      const end = encodeRecord(buffer, 0, fields, 1234, crc32);
      expect(end).to.equal(buffer.length);
      const decoded = decodePayload(buffer, FRAME_HEADER_SIZE, end)!;
      expect({ ...decoded, data: [...decoded.data], metadata: [...decoded.metadata] }).to.deep.equal({
        ...fields,
        data: [...fields.data],
        metadata: [...fields.metadata],
        sourcePosition: 1234,
      });
      expect(buffer.readUInt32LE(4)).to.equal(crc32(buffer.subarray(FRAME_HEADER_SIZE, end)));
    });

    it('refuses a payload whose lengths do not add up', () => {
      const buffer = Buffer.alloc(recordSize(fields));
      const end = encodeRecord(buffer, 0, fields, -1, crc32);
      expect(decodePayload(buffer, FRAME_HEADER_SIZE, end - 1)).to.equal(undefined);
    });
  });

  describe('when a segment header is read', () => {
    it('returns the base position it was written with, and undefined for foreign bytes', () => {
      expect(decodeSegmentHeader(encodeSegmentHeader(987654))).to.deep.equal({ base: 987654 });
      expect(decodeSegmentHeader(Buffer.alloc(16))).to.equal(undefined);
      expect(decodeSegmentHeader(Buffer.alloc(3))).to.equal(undefined);
    });
  });
});
