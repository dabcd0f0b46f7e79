export interface JobResultRow {
  job_id: string;
  caller_user_id: string | null;
  success: boolean;
  result_xml: string;
  accepted_at: Date;
  finished_at: Date;
}
