with source as (
    select * from {{ source('raw', 'submissions') }}
),

renamed as (
    select
        cast(submission_id as varchar) as submission_id,
        cast(quarter as varchar) as quarter,
        cast(unit_code as varchar) as unit_code,
        cast(file_name as varchar) as file_name,
        cast(archive_path as varchar) as archive_path,
        cast(size_bytes as bigint) as size_bytes,
        cast(arrival_at as timestamp with time zone) as arrival_at,
        cast(format as varchar) as file_format,
        cast(encoding as varchar) as file_encoding,
        cast(accepted as boolean) as is_accepted,
        cast(is_current as boolean) as is_current,
        cast(n_errors as bigint) as n_errors,
        cast(n_warnings as bigint) as n_warnings,
        cast(receipt_path as varchar) as receipt_path
    from source
)

select * from renamed
