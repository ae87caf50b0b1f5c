with orders as (
    select * from {{ ref('stg_orders') }}
),

payments as (
    select * from {{ ref('stg_payments') }}
),

order_totals as (
    select
        orders.customer_id,
        count(distinct orders.order_id) as number_of_orders,
        sum(payments.amount) as lifetime_value
    from orders
    left join payments on orders.order_id = payments.order_id
    group by orders.customer_id
)

select
    customers.customer_id,
    customers.first_name,
    customers.last_name,
    coalesce(order_totals.number_of_orders, 0) as number_of_orders,
    coalesce(order_totals.lifetime_value, 0) as lifetime_value
from {{ ref('stg_customers') }} as customers
left join order_totals on customers.customer_id = order_totals.customer_id
