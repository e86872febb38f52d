import { UNTOLD, type IdentityEvent } from '../../functions/core/identity-event';

/** An IdentityEvent with every field present: what a record does not tell is null, as the normalizer leaves it. */
export function identityEvent(kind: IdentityEvent['kind'], fields: Partial<IdentityEvent> = {}): IdentityEvent {
  return {
    kind,
    outcome: 'success',
    eventId: 'e-1',
    eventTime: '2024-05-15T09:00:00Z',
    account: '111122223333',
    region: 'us-east-1',
    ...UNTOLD,
    action: 'sts:AssumeRole',
    errorCode: null,
    sourceIp: null,
    userAgent: null,
    ...fields,
  };
}
