-- Singular test: a customer's lifetime value is never negative.
select customer_id, lifetime_value
from {{ ref('customers') }}
where lifetime_value < 0
