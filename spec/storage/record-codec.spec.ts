import { expect } from 'chai';
import { crc32 } from 'node:zlib';
import {
  decodePayload,
  decodeSegmentHeader,
  encodeLinkRecord,
  encodeRecord,
  encodeSegmentHeader,
  FRAME_HEADER_SIZE,
  LINK_RECORD_SIZE,
  crc32Of,
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
      const end = encodeRecord(buffer, 0, fields, 1234);
      expect(end).to.equal(buffer.length);
      const decoded = decodePayload(buffer, FRAME_HEADER_SIZE, end)!;
      if (decoded.kind !== 'event') expect.fail(`decoded a ${decoded.kind} record`);
      expect({ ...decoded, data: [...decoded.data], metadata: [...decoded.metadata] }).to.deep.equal({
        ...fields,
        kind: 'event',
        data: [...fields.data],
        metadata: [...fields.metadata],
        sourcePosition: 1234,
      });
      expect(buffer.readUInt32LE(4)).to.equal(crc32(buffer.subarray(FRAME_HEADER_SIZE, end)));
    });

    it('keeps a source position above 2^32, and -1 for no source', () => {
      for (const sourcePosition of [2 ** 40 + 5, -1]) {
        const buffer = Buffer.alloc(recordSize(fields));
        const end = encodeRecord(buffer, 0, fields, sourcePosition);
        expect(decodePayload(buffer, FRAME_HEADER_SIZE, end)!.sourcePosition).to.equal(sourcePosition);
      }
    });

    it('refuses a payload whose lengths do not add up', () => {
      const buffer = Buffer.alloc(recordSize(fields));
      const end = encodeRecord(buffer, 0, fields, -1);
      expect(decodePayload(buffer, FRAME_HEADER_SIZE, end - 1)).to.equal(undefined);
    });
  });

  describe('when a link record is encoded', () => {
    it('decodes to its revision, source position, projection and id, in LINK_RECORD_SIZE bytes', () => {
      const id = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
      const ids = Buffer.concat([Buffer.alloc(5), id]);
      const buffer = Buffer.alloc(LINK_RECORD_SIZE + 3);
      const end = encodeLinkRecord(buffer, 3, 2 ** 33 + 41, 2 ** 40 + 17, true, ids, 5);
      expect(end).to.equal(buffer.length);
      const decoded = decodePayload(buffer, 3 + FRAME_HEADER_SIZE, end)!;
      if (decoded.kind !== 'link') expect.fail(`decoded a ${decoded.kind} record`);
      expect(decoded.revision).to.equal(2 ** 33 + 41);
      expect(decoded.sourcePosition).to.equal(2 ** 40 + 17);
      expect(decoded.category).to.equal(true);
      expect(decoded.idBytes.subarray(decoded.idOffset, decoded.idOffset + 16)).to.deep.equal(id);
      expect(buffer.readUInt32LE(7)).to.equal(crc32(buffer.subarray(3 + FRAME_HEADER_SIZE, end)));
    });

    it('tells `$et-` links from `$ce-` links', () => {
      const buffer = Buffer.alloc(LINK_RECORD_SIZE);
      encodeLinkRecord(buffer, 0, 0, 0, false, Buffer.alloc(16), 0);
      const decoded = decodePayload(buffer, FRAME_HEADER_SIZE, LINK_RECORD_SIZE)!;
      expect(decoded.kind === 'link' && decoded.category).to.equal(false);
    });
  });

  describe('when a checksum is computed', () => {
    it('equals zlib.crc32 of the same bytes at every length and offset, short and long', () => {
      const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919 + 13) % 251));
      for (const length of [0, 1, 7, 8, 9, 36, 300, 511, 512, 513, 4000]) {
        for (const start of [0, 3, 8]) {
          const end = start + length;
          expect(crc32Of(bytes, start, end), `${start}+${length}`).to.equal(
            crc32(bytes.subarray(start, end)),
          );
        }
      }
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
