{{ config(materialized='incremental', unique_key='order_id') }}

select
    orders.order_id,
    orders.customer_id,
    orders.order_date,
    orders.status,
    sum(payments.amount) as amount,
    current_timestamp as loaded_at
from {{ ref('stg_orders') }} as orders
left join {{ ref('stg_payments') }} as payments
    on orders.order_id = payments.order_id
{% if is_incremental() %}
where orders.order_date > (select max(order_date) from {{ this }})
{% endif %}
group by orders.order_id, orders.customer_id, orders.order_date, orders.status
