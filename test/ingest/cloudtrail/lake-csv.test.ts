import { describe, expect, it } from 'vitest';
import { isLakeHeader, lakeRecord } from '../../../ingest/cloudtrail/lake-csv.js';
import { parseCloudTrailRecord, type CloudTrailRow } from '../../../ingest/cloudtrail/record.js';
import { MAX_DEPTH } from '../../../ingest/cloudtrail/depth.js';
import { Reject } from '../../../ingest/reject.js';

describe('CloudTrail Lake CSV exports', () => {
  it('tells a Lake header from other CSV and from access-log lines', () => {
    expect(isLakeHeader('eventversion,useridentity,eventtime,eventsource,eventname')).toBe(true);
    expect(isLakeHeader('"eventJson"')).toBe(false); // one column is not enough to tell
    expect(isLakeHeader('eventJson,eventTime')).toBe(true);
    expect(isLakeHeader('name,age,city')).toBe(false);
    expect(isLakeHeader('79a59df9 prod-data [10/Mar/2025:08:00:01 +0000] 192.0.2.3 - R1 REST.GET.OBJECT')).toBe(false);
  });

  it('reads cells holding JSON, in the record case whatever the header case', () => {
    const header = ['eventtime', 'eventsource', 'eventname', 'useridentity', 'requestparameters', 'readonly', 'additionaleventdata'];
    const rec = lakeRecord(header, [
      '2025-03-10 08:00:01.000', 's3.amazonaws.com', 'GetObject',
      '{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}',
      '{"bucketName":"prod-data","key":"a.csv","X-Amz-Expires":"604800"}', 'true', '',
    ]);
    expect(rec).toEqual({
      eventTime: '2025-03-10T08:00:01.000Z', eventSource: 's3.amazonaws.com', eventName: 'GetObject',
      userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/alice', accountId: '111122223333' },
      requestParameters: { bucketName: 'prod-data', key: 'a.csv', 'X-Amz-Expires': '604800' }, readOnly: 'true',
    });
    const row = parseCloudTrailRecord(rec) as CloudTrailRow;
    expect(row).toMatchObject({ bucket: 'prod-data', key: 'a.csv', presigned_expires_s: 604800, read_only: true, user_account_id: '111122223333' });
  });

  it('reads cells in the {key=value, ...} form, giving keys their CloudTrail case', () => {
    const rec = lakeRecord(['eventTime', 'eventName', 'eventSource', 'userIdentity', 'requestParameters'], [
      '2025-03-10 08:00:01.000', 'PutBucketPolicy', 's3.amazonaws.com',
      '{type=AssumedRole, principalid=AROA:s, arn=arn:aws:sts::111122223333:assumed-role/etl/s, accountid=111122223333, accesskeyid=ASIA1, username=null, sessioncontext={attributes={creationdate=2025-03-10 07:00:00.000, mfaauthenticated=false}, sessionissuer={type=Role, principalid=AROA, arn=arn:aws:iam::111122223333:role/etl, accountid=111122223333, username=etl}}, invokedby=null}',
      '{bucketName=web-assets, policy=x, Host=web-assets.s3.amazonaws.com}',
    ]);
    const row = parseCloudTrailRecord(rec) as CloudTrailRow;
    expect(row).toMatchObject({
      user_type: 'AssumedRole', user_account_id: '111122223333', user_name: 'etl', invoked_by: null, mfa_authenticated: false,
      session_issuer_arn: 'arn:aws:iam::111122223333:role/etl', bucket: 'web-assets', host_header: 'web-assets.s3.amazonaws.com',
    });
  });

  it('takes the whole record from an eventJson column when there is one', () => {
    const whole = { eventTime: '2025-03-10T08:00:01Z', eventName: 'DeleteObject', eventSource: 's3.amazonaws.com', requestParameters: { bucketName: 'b', key: 'k', versionId: 'v' } };
    const rec = lakeRecord(['eventTime', 'eventJson'], ['2025-03-10 08:00:01.000', JSON.stringify(whole)]);
    expect(rec).toEqual(whole);
  });

  it('keeps a cell that cannot be read as text, for the record to keep', () => {
    const rec = lakeRecord(['eventTime', 'eventName', 'requestParameters'], ['2025-03-10 08:00:01', 'X', '{not json']);
    expect(rec).toMatchObject({ requestParameters: '{not json' });
  });

  it('rejects a {key=value} cell nested deeper than a record may be, instead of running out of stack', () => {
    const deep = '{a='.repeat(50_000) + 'x' + '}'.repeat(50_000);
    const rec = lakeRecord(['eventTime', 'eventName', 'requestParameters'], ['2025-03-10 08:00:01', 'X', deep]);
    expect(rec).toEqual(new Reject(`nested deeper than ${MAX_DEPTH} levels`));
  });

  it('replaces an escaped half of a surrogate pair in a JSON cell with U+FFFD', () => {
    const rec = lakeRecord(['eventTime', 'eventName', 'requestParameters'], ['2025-03-10 08:00:01', 'X', '{"bucketName":"a\\udfffb","\\ud800":1}']);
    expect(rec).toMatchObject({ requestParameters: { bucketName: 'a\ufffdb', '\ufffd': 1 } });
  });
});
