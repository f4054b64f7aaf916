// Generated from the zod schemas by `npm run schemas` (scripts/generate-schemas.ts): do not edit.
// The payload each task accepts, as plain types; test/unit/contract.test.ts fails when this file is stale.

/** What a producer may send for each task (fields with a default may be left out). */
export interface Payloads {
  send_otp_verification_email: {
    locale?: string;
    time_zone?: string;
    correlation_id?: string;
    expires_at?: string;
    email: string;
    user_data?: {
      username?: string;
      full_name?: string;
    };
    otp: string | number;
    expires_in_minutes?: number | string;
  };
  send_welcome_email: {
    locale?: string;
    time_zone?: string;
    correlation_id?: string;
    expires_at?: string;
    email: string;
    user_data?: {
      username?: string;
      full_name?: string;
    };
    dashboard_url?: string;
  };
  send_booking_confirmation: {
    locale?: string;
    time_zone?: string;
    correlation_id?: string;
    expires_at?: string;
    user_id: number | string;
    email?: string;
    booking_data?: {
      event_name?: string;
      booking_id?: string | number;
      quantity?: number | string;
      total_price?: number | string;
      booking_date?: string | number;
      event_date?: string | number;
      venue?: string;
      currency?: string;
    };
  };
  send_booking_cancellation: {
    locale?: string;
    time_zone?: string;
    correlation_id?: string;
    expires_at?: string;
    user_id: number | string;
    email?: string;
    cancellation_data?: {
      event_name?: string;
      booking_id?: string | number;
      refund_amount?: number | string;
      reason?: string;
      currency?: string;
      refund_expected_days?: number | string;
    };
  };
  send_waitlist_notification: {
    locale?: string;
    time_zone?: string;
    correlation_id?: string;
    expires_at?: string;
    user_id: number | string;
    email?: string;
    waitlist_data?: {
      event_name?: string;
      position?: number | string;
      expiry_minutes?: number | string;
      claim_url?: string;
    };
  };
  send_waitlist_joined: {
    locale?: string;
    time_zone?: string;
    correlation_id?: string;
    expires_at?: string;
    user_id: number | string;
    email?: string;
    waitlist_data?: {
      event_name?: string;
      position?: number | string;
      joined_date?: string | number;
    };
  };
  send_waitlist_cancellation: {
    locale?: string;
    time_zone?: string;
    correlation_id?: string;
    expires_at?: string;
    user_id: number | string;
    email?: string;
    waitlist_data?: {
      event_name?: string;
      cancellation_date?: string | number;
      rejoin_url?: string;
    };
  };
  health_check: {
    locale?: string;
    time_zone?: string;
    correlation_id?: string;
    expires_at?: string;
  };
}
